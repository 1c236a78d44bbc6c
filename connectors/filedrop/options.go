package filedrop

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/lothub/lothub/sdk"
)

// Record kinds. The spec must declare every kind the connector can emit,
// whatever an admin configures, so the vocabulary is fixed: the canonical
// layout uses one kind per event type (receive.csv holds receive rows),
// other layouts pick from the generic kinds.
var (
	canonicalKinds = []string{"receive", "consume", "produce", "transform", "step", "ship", "move", "hold", "release", "reverse", "adjust"}
	genericKinds   = []string{"receipt", "production", "shipment", "quality", "inventory", "order", "row"}
)

// KindBadRow is the kind of a row the connector could not read (wrong
// number of fields, not a JSON object, too long, an unreadable header). It
// carries the file, line, reason and text, so that it is archived and
// quarantined under its file:line id instead of being lost.
const KindBadRow = "bad-row"

// After-processing actions.
const (
	afterLeave  = "leave"
	afterMove   = "move"
	afterDelete = "delete"
)

// Formats.
const (
	formatAuto  = "auto"
	formatCSV   = "csv"
	formatJSONL = "jsonl"
	formatXLSX  = "xlsx"
)

const defaultKinds = "receive=receive*,consume=consume*,produce=produce*,transform=transform*,step=step*," +
	"ship=ship*,move=move*,hold=hold*,release=release*,reverse=reverse*"

func params() []sdk.Param {
	return []sdk.Param{
		{Name: "source", Type: sdk.TypeString, Required: true,
			Description: "Where the files are: sftp://USER@HOST[:PORT]/PATH (PATH is absolute; /~/PATH is relative to the user's home) or a local directory path."},
		{Name: "password", Type: sdk.TypeString, Secret: true,
			Description: "SFTP password of the user, as a reference (${env:NAME} or ${file:/path}); leave empty to log in with private_key only."},
		{Name: "private_key", Type: sdk.TypeString, Secret: true,
			Description: "SFTP private key (OpenSSH or PEM text, usually ${file:/etc/lothub/sftp_key}); its public half goes in the user's authorized_keys on the server."},
		{Name: "private_key_passphrase", Type: sdk.TypeString, Secret: true,
			Description: "Passphrase of private_key, when it is encrypted."},
		{Name: "known_hosts", Type: sdk.TypeString,
			Description: "known_hosts file that holds the SFTP server's host key (ssh-keyscan -p PORT HOST >> FILE, after checking the fingerprint with the server's admin)."},
		{Name: "host_key", Type: sdk.TypeString,
			Description: "Pinned SHA-256 fingerprint(s) of the SFTP server's host key, as ssh-keygen -lf prints them (SHA256:...), comma-separated during a key rollover. Either this or known_hosts is required for sftp."},
		{Name: "insecure_ignore_host_key", Type: sdk.TypeBool, Default: "false",
			Description: "Accept any host key when neither host_key nor known_hosts is set. Only for a first test on a trusted network: anyone in the middle can read and forge the files. Logged as a warning on every connection."},
		{Name: "kinds", Type: sdk.TypeString, Default: defaultKinds,
			Description: "Which files hold which record kind: comma-separated KIND=GLOB pairs (receipt=receipts_*.csv,shipment=ship_*.csv). A glob without / matches the file name, one with / the path below source. The first pair that matches wins; other files are ignored."},
		{Name: "recursive", Type: sdk.TypeBool, Default: "false",
			Description: "Also read files in subdirectories of source (the archive folder excepted)."},
		{Name: "format", Type: sdk.TypeString, Default: formatAuto,
			Description: "File format: auto (by extension: .csv .txt .tsv are CSV, .jsonl .ndjson JSON Lines, .xlsx Excel), csv, jsonl or xlsx."},
		{Name: "delimiter", Type: sdk.TypeString, Default: ",",
			Description: "CSV field delimiter: one ASCII character such as , ; or |, or tab."},
		{Name: "quote", Type: sdk.TypeString, Default: `"`,
			Description: `CSV quote character (one ASCII character; a quote inside a quoted field is doubled), or none.`},
		{Name: "encoding", Type: sdk.TypeString, Default: "utf-8",
			Description: "Text encoding of CSV and JSON Lines files: utf-8 (a byte order mark is skipped), windows-1252, iso-8859-1 (latin1) or iso-8859-15."},
		{Name: "sheet", Type: sdk.TypeString,
			Description: "Excel sheet to read; the first sheet when empty."},
		{Name: "ready_suffix", Type: sdk.TypeString,
			Description: "Trigger-file convention: a file X is read only once X plus this suffix exists (.done, .ready, .ok). The trigger file gets the same after-processing as X."},
		{Name: "temp_suffixes", Type: sdk.TypeString, Default: ".tmp,.part,.partial,.filepart",
			Description: "Files being uploaded under a temporary name ending in one of these (comma-separated) are never read; the uploader renames them when complete."},
		{Name: "stable_wait", Type: sdk.TypeDuration, Default: "2s",
			Description: "A file is read only when two listings this far apart show the same size and modification time (0s turns the check off, e.g. with ready_suffix)."},
		{Name: "after", Type: sdk.TypeString, Default: afterLeave,
			Description: "What to do with a file once its rows are committed: leave, move (to archive_dir) or delete."},
		{Name: "archive_dir", Type: sdk.TypeString, Default: "archive",
			Description: "Folder files are moved to with after: move; relative to source unless absolute."},
		{Name: "retention", Type: sdk.TypeDuration, Default: "720h",
			Description: "How long an ingested file that has left the folder is remembered, so that the same file dropped again is not ingested twice."},
		{Name: "max_row_bytes", Type: sdk.TypeInt, Default: "1048576",
			Description: "Longest row (or JSON line) accepted; a longer one becomes a bad-row record."},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "15s",
			Description: "Bound on connecting and logging in to the SFTP server."},
	}
}

// kindGlob maps the files a glob matches to a record kind.
type kindGlob struct {
	kind, glob string
	full       bool // the glob has a /: match the path below the root
}

// options is the configuration, checked beyond what the spec can say.
type options struct {
	key string // identifies the configuration (a hash), for the session pool

	sftp bool
	root string // directory: absolute local path, or the SFTP path ("" = home)
	host string // host:port
	user string

	password, privateKey, passphrase string
	knownHosts                       string
	hostKeys                         []string
	insecure                         bool
	timeout                          time.Duration

	kinds        []kindGlob
	recursive    bool
	format       string
	delim, quote byte // quote 0: none
	charset      *charmap.Charmap
	sheet        string
	readySuffix  string
	tempSuffixes []string
	stableWait   time.Duration
	after        string
	archive      string // relative to root (slash separated) or absolute
	retention    time.Duration
	maxRow       int
}

func parseOptions(cfg sdk.Config) (*options, error) {
	d := sdk.NewDecoder((*Connector)(nil).Spec(), cfg)
	o := &options{
		password:    d.Secret("password"),
		privateKey:  d.Secret("private_key"),
		passphrase:  d.Secret("private_key_passphrase"),
		knownHosts:  d.String("known_hosts"),
		insecure:    d.Bool("insecure_ignore_host_key"),
		timeout:     d.Duration("timeout"),
		recursive:   d.Bool("recursive"),
		format:      d.OneOf("format", "a format", formatAuto, formatCSV, formatJSONL, formatXLSX),
		sheet:       d.String("sheet"),
		readySuffix: d.String("ready_suffix"),
		stableWait:  d.Duration("stable_wait"),
		after:       d.OneOf("after", "an action", afterLeave, afterMove, afterDelete),
		retention:   d.Duration("retention"),
		maxRow:      d.IntAtLeast("max_row_bytes", 64),
	}
	source := d.String("source")
	hostKeys := d.List("host_key")
	kinds := d.List("kinds")
	delimiter, quote, encoding := d.String("delimiter"), d.String("quote"), d.String("encoding")
	tempSuffixes := d.List("temp_suffixes")
	archive := d.String("archive_dir")
	if err := d.Err(); err != nil {
		return nil, err
	}
	if err := o.parseSource(source); err != nil {
		return nil, err
	}
	if o.sftp {
		if o.password == "" && o.privateKey == "" {
			return nil, sdk.InvalidConfig("password", "an sftp source needs password or private_key (as a ${env:...} or ${file:...} reference)")
		}
		for _, fp := range hostKeys {
			if !strings.HasPrefix(fp, "SHA256:") || len(fp) < 20 {
				return nil, sdk.InvalidConfig("host_key", "%q is not a SHA-256 fingerprint: write it as ssh-keygen -lf prints it, SHA256:followed by base64", fp)
			}
			o.hostKeys = append(o.hostKeys, fp)
		}
		if o.knownHosts == "" && len(o.hostKeys) == 0 && !o.insecure {
			return nil, sdk.InvalidConfig("host_key", "the SFTP server's host key must be verified: set host_key (its SHA256:... fingerprint) or known_hosts (a file with its key); insecure_ignore_host_key: true skips the check, at the risk of reading forged files")
		}
	}
	if o.timeout <= 0 {
		o.timeout = 15 * time.Second
	}
	if err := o.parseKinds(kinds); err != nil {
		return nil, err
	}
	var err error
	if o.delim, err = asciiChar(delimiter, false); err != nil {
		return nil, sdk.InvalidConfig("delimiter", "%v", err)
	}
	if o.quote, err = asciiChar(quote, true); err != nil {
		return nil, sdk.InvalidConfig("quote", "%v", err)
	}
	if o.delim == '\n' || o.delim == '\r' || o.delim == o.quote {
		return nil, sdk.InvalidConfig("delimiter", "the delimiter cannot be a line break or the quote character")
	}
	switch strings.ToLower(strings.ReplaceAll(encoding, "_", "-")) {
	case "utf-8", "utf8":
	case "windows-1252", "cp1252":
		o.charset = charmap.Windows1252
	case "iso-8859-1", "latin1", "latin-1":
		o.charset = charmap.ISO8859_1
	case "iso-8859-15", "latin9", "latin-9":
		o.charset = charmap.ISO8859_15
	default:
		return nil, sdk.InvalidConfig("encoding", "%q is not supported: want utf-8, windows-1252, iso-8859-1 or iso-8859-15", encoding)
	}
	if o.readySuffix != "" && !validSuffix(o.readySuffix) {
		return nil, sdk.InvalidConfig("ready_suffix", "%q is not a file name suffix such as .done", o.readySuffix)
	}
	for _, s := range tempSuffixes {
		if !validSuffix(s) {
			return nil, sdk.InvalidConfig("temp_suffixes", "%q is not a file name suffix such as .tmp", s)
		}
		o.tempSuffixes = append(o.tempSuffixes, s)
	}
	o.archive = strings.TrimSuffix(filepath.ToSlash(archive), "/")
	if o.after == afterMove && (o.archive == "" || o.archive == ".") {
		return nil, sdk.InvalidConfig("archive_dir", "after: move needs a folder to move files to, other than source itself")
	}
	o.key = cfg.Fingerprint()
	return o, nil
}

// parseSource reads the source parameter. Its errors never quote a URL
// that holds a password.
func (o *options) parseSource(src string) error {
	if src == "" {
		return sdk.InvalidConfig("source", "required parameter is missing: set it to sftp://USER@HOST[:PORT]/PATH or a directory path")
	}
	if !strings.Contains(src, "://") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return sdk.InvalidConfig("source", "%q: %v", src, err)
		}
		o.root = abs
		return nil
	}
	u, err := url.Parse(src)
	if err != nil {
		return sdk.InvalidConfig("source", "not a URL: write sftp://USER@HOST[:PORT]/PATH or a directory path")
	}
	if _, has := u.User.Password(); has {
		return sdk.InvalidConfig("source", "the URL holds a password: remove it and set the password parameter to a ${env:...} or ${file:...} reference")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return sdk.InvalidConfig("source", "%s: a file URL names a local directory (file:///path)", u.Redacted())
		}
		o.root = filepath.FromSlash(u.Path)
		return nil
	case "sftp":
	default:
		return sdk.InvalidConfig("source", "scheme %q is not supported: want sftp://USER@HOST[:PORT]/PATH or a directory path", u.Scheme)
	}
	o.sftp = true
	if u.User == nil || u.User.Username() == "" {
		return sdk.InvalidConfig("source", "%s: name the SFTP user, as in sftp://USER@%s%s", u.Redacted(), u.Host, u.Path)
	}
	o.user = u.User.Username()
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return sdk.InvalidConfig("source", "%s: no host", u.Redacted())
	}
	if port == "" {
		port = "22"
	}
	o.host = net.JoinHostPort(host, port)
	p := u.Path
	switch {
	case p == "" || p == "/~" || p == "/~/":
		o.root = "."
	case strings.HasPrefix(p, "/~/"):
		o.root = path.Clean(p[3:])
	default:
		o.root = path.Clean(p)
	}
	return nil
}

func (o *options) parseKinds(pairs []string) error {
	for _, pair := range pairs {
		kind, glob, ok := strings.Cut(pair, "=")
		kind, glob = strings.TrimSpace(kind), strings.TrimSpace(glob)
		if !ok || kind == "" || glob == "" {
			return sdk.InvalidConfig("kinds", "%q is not KIND=GLOB (as in receipt=receipts_*.csv)", pair)
		}
		if !slices.Contains(canonicalKinds, kind) && !slices.Contains(genericKinds, kind) {
			return sdk.InvalidConfig("kinds", "%q is not a record kind of this connector: use an event type (%s) for the canonical layout, or one of %s",
				kind, strings.Join(canonicalKinds, ", "), strings.Join(genericKinds, ", "))
		}
		glob = strings.TrimPrefix(filepath.ToSlash(glob), "./")
		if _, err := path.Match(glob, ""); err != nil || strings.HasPrefix(glob, "/") || slices.Contains(strings.Split(glob, "/"), "..") {
			return sdk.InvalidConfig("kinds", "%q is not a glob of file names below source (such as receipts_*.csv or in/*.csv)", glob)
		}
		o.kinds = append(o.kinds, kindGlob{kind: kind, glob: glob, full: strings.Contains(glob, "/")})
	}
	if len(o.kinds) == 0 {
		return sdk.InvalidConfig("kinds", "no KIND=GLOB pair: say which files hold which records (receipt=receipts_*.csv)")
	}
	return nil
}

// kindOf returns the kind of the file at rel (slash separated, below the
// root), or "" when no glob matches it.
func (o *options) kindOf(rel string) string {
	base := path.Base(rel)
	for _, k := range o.kinds {
		name := base
		if k.full {
			name = rel
		}
		if ok, _ := path.Match(k.glob, name); ok {
			return k.kind
		}
	}
	return ""
}

// formatOf returns the format of the file at rel, or "" when the format is
// auto and the extension says nothing.
func (o *options) formatOf(rel string) string {
	if o.format != formatAuto {
		return o.format
	}
	switch strings.ToLower(path.Ext(rel)) {
	case ".csv", ".txt", ".tsv":
		return formatCSV
	case ".jsonl", ".ndjson":
		return formatJSONL
	case ".xlsx", ".xlsm":
		return formatXLSX
	}
	return ""
}

// temporary reports whether name is a file being uploaded.
func (o *options) temporary(name string) bool {
	for _, s := range o.tempSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func validSuffix(s string) bool {
	return s != "" && !strings.ContainsAny(s, `/\*?[`) && utf8.ValidString(s)
}

// asciiChar reads a one-character parameter; "tab" and `\t` mean a tab,
// and "none" (when allowed) means no character.
func asciiChar(s string, noneOK bool) (byte, error) {
	switch strings.ToLower(s) {
	case "tab", `\t`:
		return '\t', nil
	case "none", "":
		if noneOK {
			return 0, nil
		}
		return 0, fmt.Errorf("%q: want one character", s)
	}
	if len(s) != 1 || s[0] >= utf8.RuneSelf {
		return 0, fmt.Errorf("%q: want one ASCII character (or tab)", s)
	}
	return s[0], nil
}
