package rest_test

import (
	"strings"
	"testing"

	"github.com/lothub/lothub/connectors/rest"
)

func TestShippedProfilesLoad(t *testing.T) {
	for _, name := range []string{"oracle-fusion-scm", "epicor-kinetic", "infor-csi"} {
		if _, err := rest.LoadProfile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

const goodProfile = `profile: acme
timezone: UTC
auth: {type: bearer}
paging:
  style: link_header
endpoints:
  - name: moves
    kind: record
    path: /moves
    key: [id]
    incremental:
      cursor: updated_at
      param: filter
      filter: "updated_at>={{cursor}}"
`

// Every mistake is reported at its file:line:col, all at once.
func TestProfileErrors(t *testing.T) {
	if _, err := rest.ParseProfile("acme.yaml", []byte(goodProfile)); err != nil {
		t.Fatalf("good profile: %v", err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"UnknownPagingStyle", "style: link_header", "style: cursor_magic", `acme.yaml:5:10: unknown paging style "cursor_magic"`},
		{"UnknownTemplateField", "updated_at>={{cursor}}", "updated_at>={{cursor}} and site={{site}}", `acme.yaml:14:15: template names unknown field {{site}}`},
		{"UndeclaredVariable", "path: /moves", "path: /{{var.company}}/moves", `acme.yaml:9:11: template names {{var.company}}, but variables: declares no company`},
		{"FilterWithoutCursorField", `"updated_at>={{cursor}}"`, `"changed>={{cursor}}"`, `acme.yaml:14:15: the filter does not name the cursor field updated_at`},
		{"FilterWithoutCursor", `"updated_at>={{cursor}}"`, `"updated_at>=2020"`, `acme.yaml:14:15: the filter has no {{cursor}}`},
		{"UnknownKey", "    key: [id]", "    keys: [id]", `acme.yaml:10:5: unknown key "keys" in an endpoint`},
		{"UnknownAuth", "type: bearer", "type: kerberos", `acme.yaml:3:14: unknown auth type "kerberos"`},
		{"UnknownKind", "kind: record", "kind: moves", `acme.yaml:8:11: kind "moves" is not one the rest connector declares`},
		{"SecretInTemplate", "path: /moves", "path: /{{ionapi.cs}}/moves", `acme.yaml:9:11: template names {{ionapi.cs}}, but auth has no credentials: ionapi`},
		{"BadTimezone", "timezone: UTC", "timezone: Mars/Olympus", `acme.yaml:2:11: unknown time zone "Mars/Olympus"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(goodProfile, c.old, c.new, 1)
			_, err := rest.ParseProfile("acme.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestProfileSyntaxError(t *testing.T) {
	_, err := rest.ParseProfile("acme.yaml", []byte("profile: acme\nauth: {type: [\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "acme.yaml:") {
		t.Fatalf("err = %v", err)
	}
}
