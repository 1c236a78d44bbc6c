package outbox

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/connectors/filedrop"
)

// fileDrop writes one file per action to the folder of an ERP that imports
// files (the action's url: a directory or sftp://user@host/path), through
// the filedrop connector's SFTP code: to NAME.tmp first, then renamed.
// The file is named after the idempotency key (KEY.json or KEY.csv) and
// carries it, so that the importer can refuse a file it has imported.
// Before a retry of unknown outcome the folder (and options.done_dir,
// where the importer moves what it imported) is searched for the file.
type fileDrop struct{}

func (fileDrop) outbound(d *Delivery) filedrop.Outbound {
	a := d.Action
	return filedrop.Outbound{
		Dest: a.URL.Value(), Password: a.Credential("password"), PrivateKey: a.Credential("private_key"),
		Passphrase: a.Credential("private_key_passphrase"), KnownHosts: a.Options["known_hosts"], HostKey: a.Options["host_key"],
		Insecure: a.Options["insecure_ignore_host_key"] == "true", Timeout: time.Duration(a.Timeout),
	}
}

func fileName(d *Delivery) string {
	ext := ".json"
	if d.Action.Options["format"] == "csv" {
		ext = ".csv"
	}
	return d.Key + ext
}

// fileContent is the file: a JSON object of the fields with key and
// event, or a CSV header and one row (columns: key, event, the fields in
// name order).
func fileContent(d *Delivery) ([]byte, error) {
	if d.Action.Options["format"] != "csv" {
		obj := map[string]any{"key": d.Key, "event": d.Event.ID}
		for k, v := range d.Fields {
			obj[k] = v
		}
		b, err := json.MarshalIndent(obj, "", "  ")
		return append(b, '\n'), err
	}
	names := make([]string, 0, len(d.Fields))
	for k := range d.Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	row := []string{d.Key, d.Event.ID}
	for _, n := range names {
		row = append(row, field(d, n))
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(append([]string{"key", "event"}, names...))
	w.Write(row)
	w.Flush()
	return buf.Bytes(), w.Error()
}

func (t fileDrop) lookup(ctx context.Context, d *Delivery) (string, bool, error) {
	name := fileName(d)
	names := []string{name}
	if done := d.Action.Options["done_dir"]; done != "" {
		names = append(names, path.Join(done, name))
	}
	if d.Dry != nil {
		return "", false, nil
	}
	ok, err := t.outbound(d).Exists(ctx, names...)
	if !ok || err != nil {
		return "", false, err
	}
	return name, true, nil
}

func (t fileDrop) deliver(ctx context.Context, d *Delivery) (string, error) {
	data, err := fileContent(d)
	if err != nil {
		return "", permanent("encode the file: %v", err)
	}
	name := fileName(d)
	ob := t.outbound(d)
	if d.Dry != nil {
		where := strings.TrimRight(ob.Dest, "/") + "/"
		d.Dry.note("WRITE", where+name+".tmp", string(data), "written to a temporary name, then renamed to "+name)
		return name, nil
	}
	if err := ob.Write(ctx, name, data); err != nil {
		return "", fmt.Errorf("drop %s in %s: %w", name, ob.Where(), err)
	}
	return name, nil
}
