package sdk_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

// decoderSpec is testSpec with a parameter more for each getter.
func decoderSpec() sdk.Spec {
	s := testSpec()
	s.Params = append(slices.Clone(s.Params),
		sdk.Param{Name: "system", Type: sdk.TypeString, Description: "Which ERP: s4hana or b1."},
		sdk.Param{Name: "region_key", Type: sdk.TypeString, Secret: true, Description: "A secret that is also a choice."},
		sdk.Param{Name: "max_row", Type: sdk.TypeInt, Default: "1024", Description: "Longest row."},
		sdk.Param{Name: "overlap", Type: sdk.TypeDuration, Default: "15m", Description: "Look-back."},
		sdk.Param{Name: "timezone", Type: sdk.TypeString, Default: "UTC", Description: "Zone of the ERP's times."},
		sdk.Param{Name: "start", Type: sdk.TypeString, Description: "First day to read."},
		sdk.Param{Name: "since", Type: sdk.TypeString, Description: "First instant to read."},
		sdk.Param{Name: "types", Type: sdk.TypeString, Default: "ItemRcpt,WOIssue", Description: "Types to read."},
	)
	return s
}

// decoderRaw is validRaw, whose password is the secret no error may show.
func decoderRaw() map[string]string { return validRaw() }

func TestDecoder(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		raw       map[string]string // over decoderRaw; "" deletes
		read      func(d *sdk.Decoder) any
		want      any    // the value read, when there is no error
		wantParam string // the parameter the error names; "" for none
		wantText  string // in the error
	}{
		{"OneOf", map[string]string{"system": "S4HANA"},
			func(d *sdk.Decoder) any { return d.OneOf("system", "an ERP", "s4hana", "b1") }, "s4hana", "", ""},
		{"OneOfWrong", map[string]string{"system": "r3"},
			func(d *sdk.Decoder) any { return d.OneOf("system", "an ERP", "s4hana", "b1") }, nil, "system", `"r3" is not an ERP: want s4hana or b1`},
		{"OneOfSecretNotEchoed", map[string]string{"region_key": password},
			func(d *sdk.Decoder) any { return d.OneOf("region_key", "a region", "eu", "us") }, nil, "region_key", "the value is not a region: want eu or us"},
		{"IntDefault", nil, func(d *sdk.Decoder) any { return d.IntBetween("page_size", 1, 5000) }, 200, "", ""},
		{"IntOutOfRange", map[string]string{"page_size": "0"},
			func(d *sdk.Decoder) any { return d.IntBetween("page_size", 1, 5000) }, nil, "page_size", "0 is out of range: want 1 to 5000"},
		{"IntTooSmall", map[string]string{"max_row": "10"},
			func(d *sdk.Decoder) any { return d.IntAtLeast("max_row", 64) }, nil, "max_row", "10 is too small: want at least 64"},
		{"Bool", map[string]string{"verify_tls": "false"}, func(d *sdk.Decoder) any { return d.Bool("verify_tls") }, false, "", ""},
		{"Duration", map[string]string{"timeout": "1m30s"},
			func(d *sdk.Decoder) any { return d.PositiveDuration("timeout") }, 90 * time.Second, "", ""},
		{"DurationZero", map[string]string{"timeout": "0s"},
			func(d *sdk.Decoder) any { return d.PositiveDuration("timeout") }, nil, "timeout", "want a positive duration, such as 30s (the default)"},
		{"DurationTooShort", map[string]string{"overlap": "10s"},
			func(d *sdk.Decoder) any { return d.DurationAtLeast("overlap", time.Minute) }, nil, "overlap", "10s is too short: want at least 1m, such as 15m (the default)"},
		{"URL", map[string]string{"base_url": "https://erp.example.com/api"},
			func(d *sdk.Decoder) any { return d.URL("base_url").String() }, "https://erp.example.com/api", "", ""},
		{"Location", map[string]string{"timezone": "Europe/Berlin"},
			func(d *sdk.Decoder) any { return d.Location("timezone").String() }, "Europe/Berlin", "", ""},
		{"LocationDefault", nil, func(d *sdk.Decoder) any { return d.Location("timezone").String() }, "UTC", "", ""},
		{"LocationUnknown", map[string]string{"timezone": "CET+1"},
			func(d *sdk.Decoder) any { return d.Location("timezone") }, nil, "timezone", `"CET+1" is not an IANA time zone name`},
		{"LocationLocal", map[string]string{"timezone": "Local"},
			func(d *sdk.Decoder) any { return d.Location("timezone") }, nil, "timezone", "not an IANA time zone name"},
		{"Date", map[string]string{"start": "2026-03-01"},
			func(d *sdk.Decoder) any { return d.Date("start", berlin) }, time.Date(2026, 3, 1, 0, 0, 0, 0, berlin), "", ""},
		{"DateUnset", nil, func(d *sdk.Decoder) any { return d.Date("start", nil).IsZero() }, true, "", ""},
		{"DateWrong", map[string]string{"start": "01.03.2026"},
			func(d *sdk.Decoder) any { return d.Date("start", nil) }, nil, "start", `"01.03.2026" is not a date: want YYYY-MM-DD`},
		{"DateOrTimeDate", map[string]string{"since": "2026-03-01"},
			func(d *sdk.Decoder) any { return d.DateOrTime("since", berlin) }, time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC), "", ""},
		{"DateOrTimeTime", map[string]string{"since": "2026-03-01T08:00:00+02:00"},
			func(d *sdk.Decoder) any { return d.DateOrTime("since", nil) }, time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC), "", ""},
		{"DateOrTimeWrong", map[string]string{"since": "last tuesday"},
			func(d *sdk.Decoder) any { return d.DateOrTime("since", nil) }, nil, "since", "is not a date or a time"},
		{"List", map[string]string{"types": " ItemRcpt, ,WOIssue\nBuild ,"},
			func(d *sdk.Decoder) any { return d.List("types") }, []string{"ItemRcpt", "WOIssue", "Build"}, "", ""},
		{"ListDefault", nil, func(d *sdk.Decoder) any { return d.List("types") }, []string{"ItemRcpt", "WOIssue"}, "", ""},
		{"Words", map[string]string{"types": "ItemRcpt WOIssue,Build\tUnbuild"},
			func(d *sdk.Decoder) any { return d.Words("types") }, []string{"ItemRcpt", "WOIssue", "Build", "Unbuild"}, "", ""},
		{"Secret", nil, func(d *sdk.Decoder) any { return d.Secret("password") }, password, "", ""},
		{"SecretUnset", nil, func(d *sdk.Decoder) any { return d.Secret("region_key") }, "", "", ""},
		{"SecretEnvRef", map[string]string{"password": "${env:ERP_PASSWORD}"},
			func(d *sdk.Decoder) any { return d.Secret("password") }, nil, "password", "unresolved ${env:…} or ${file:…} reference"},
		{"SecretFileRef", map[string]string{"password": "${file:/etc/lothub/erp.pw}"},
			func(d *sdk.Decoder) any { return d.Secret("password") }, nil, "password", "unresolved"},
		{"SecretNotDeclaredSecret", nil,
			func(d *sdk.Decoder) any { return d.Secret("user") }, nil, "user", "connector bug: read as a secret"},
		{"UndeclaredParameter", nil,
			func(d *sdk.Decoder) any { return d.String("pasword") }, nil, "pasword", "connector bug: the spec declares no such parameter"},
		{"ReadAsTheWrongType", nil,
			func(d *sdk.Decoder) any { return d.String("page_size") }, nil, "page_size", "declares it as int, read as string"},
		{"Invalid", nil, func(d *sdk.Decoder) any {
			d.Invalid("user", "the ERP has no user %q", "x")
			return nil
		}, nil, "user", `the ERP has no user "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := sdk.ParseConfig(decoderSpec(), changed(decoderRaw(), tt.raw))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			d := sdk.NewDecoder(decoderSpec(), cfg)
			got := tt.read(d)
			err = d.Err()
			if tt.wantParam == "" {
				if err != nil {
					t.Fatalf("Err = %v, want none", err)
				}
				if tm, ok := tt.want.(time.Time); ok {
					if g, _ := got.(time.Time); !g.Equal(tm) {
						t.Errorf("got %v, want %v", got, tt.want)
					}
				} else if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %#v, want %#v", got, tt.want)
				}
				return
			}
			wantInvalid(t, err, tt.wantParam, tt.wantText)
		})
	}
}

// wantInvalid checks that err is an *sdk.InvalidConfigError for param
// whose message holds text and names the parameter, and never shows the
// secret.
func wantInvalid(t *testing.T, err error, param, text string) {
	t.Helper()
	var ic *sdk.InvalidConfigError
	switch {
	case err == nil:
		t.Fatalf("no error, want one naming %q", param)
	case !errors.As(err, &ic) || ic.Param != param:
		t.Errorf("error %v is not an *sdk.InvalidConfigError for %q", err, param)
	case !errors.Is(err, sdk.ErrInvalidConfig):
		t.Errorf("error %v does not match sdk.ErrInvalidConfig", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%q", param)) || !strings.Contains(err.Error(), text) {
		t.Errorf("error %q: want it to name %q and say %q", err, param, text)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error shows the secret: %v", err)
	}
}

// A host may validate against another spec than the connector's (an older
// plugin's, or one that makes a parameter optional): the decoder applies
// the connector's own types, defaults and required parameters again.
func TestDecoderAppliesTheConnectorsSpec(t *testing.T) {
	relaxed := decoderSpec()
	relaxed.Params = slices.Clone(relaxed.Params)
	for i := range relaxed.Params {
		p := &relaxed.Params[i]
		p.Required, p.Default = false, ""
		if p.Name == "page_size" {
			p.Type = sdk.TypeString // the host takes anything
		}
	}
	t.Run("MissingRequired", func(t *testing.T) {
		raw := decoderRaw()
		delete(raw, "user")
		cfg, err := sdk.ParseConfig(relaxed, raw)
		if err != nil {
			t.Fatal(err)
		}
		d := sdk.NewDecoder(decoderSpec(), cfg)
		if got := d.String("user"); got != "" {
			t.Errorf("String(user) = %q, want empty", got)
		}
		wantInvalid(t, d.Err(), "user", "required parameter is missing (API user.)")
	})
	t.Run("WrongType", func(t *testing.T) {
		cfg, err := sdk.ParseConfig(relaxed, map[string]string{"page_size": "lots"})
		if err != nil {
			t.Fatal(err)
		}
		d := sdk.NewDecoder(decoderSpec(), cfg)
		if got := d.IntBetween("page_size", 1, 5000); got != 0 {
			t.Errorf("IntBetween(page_size) = %d, want 0", got)
		}
		wantInvalid(t, d.Err(), "page_size", `"lots": want an integer`)
	})
	t.Run("OwnDefaults", func(t *testing.T) {
		cfg, err := sdk.ParseConfig(relaxed, map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		d := sdk.NewDecoder(decoderSpec(), cfg)
		if got := d.PositiveDuration("timeout"); got != 30*time.Second {
			t.Errorf("PositiveDuration(timeout) = %v, want the spec's default 30s", got)
		}
		if got := d.IntBetween("page_size", 1, 5000); got != 200 {
			t.Errorf("IntBetween(page_size) = %d, want the spec's default 200", got)
		}
		if err := d.Err(); err != nil {
			t.Errorf("Err = %v", err)
		}
	})
	t.Run("ZeroConfig", func(t *testing.T) {
		d := sdk.NewDecoder(decoderSpec(), sdk.Config{})
		d.String("user")
		wantInvalid(t, d.Err(), "user", "required parameter is missing")
	})
}

// Every problem is reported, in the order the parameters were read;
// errors.As finds the first.
func TestDecoderReportsEveryProblem(t *testing.T) {
	raw := decoderRaw()
	raw["system"], raw["page_size"], raw["timezone"] = "r3", "0", "Mars/Olympus"
	cfg, err := sdk.ParseConfig(decoderSpec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	d := sdk.NewDecoder(decoderSpec(), cfg)
	d.OneOf("system", "an ERP", "s4hana", "b1")
	d.IntBetween("page_size", 1, 5000)
	d.Location("timezone")
	d.Secret("password")
	err = d.Err()
	wantInvalid(t, err, "system", "r3")
	msg := err.Error()
	if i, j := strings.Index(msg, `"page_size"`), strings.Index(msg, `"timezone"`); i < 0 || j < i {
		t.Errorf("error %q: want page_size then timezone after system", msg)
	}
}

// An unknown option is refused before any decoder runs, by name, as
// connectors have always done.
func TestDecoderUnknownOption(t *testing.T) {
	raw := decoderRaw()
	raw["page_sise"] = "100"
	_, err := sdk.ParseConfig(decoderSpec(), raw)
	wantInvalid(t, err, "page_sise", "unknown parameter (connector erp knows: base_url, user, password")
}

func TestConfigFingerprint(t *testing.T) {
	parse := func(raw map[string]string) sdk.Config {
		t.Helper()
		cfg, err := sdk.ParseConfig(decoderSpec(), raw)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := parse(validRaw())
	same := validRaw()
	same["user"] = " hub "
	other := validRaw()
	other["password"] += "x"
	if a.Fingerprint() != parse(same).Fingerprint() {
		t.Errorf("the same values give two fingerprints")
	}
	if a.Fingerprint() == parse(other).Fingerprint() {
		t.Errorf("another password gives the same fingerprint")
	}
	if a.Fingerprint("base_url", "user") != parse(other).Fingerprint("base_url", "user") {
		t.Errorf("the fingerprint of base_url and user depends on the password")
	}
	if fp := a.Fingerprint(); strings.Contains(fp, password) || len(fp) != 64 {
		t.Errorf("Fingerprint() = %q: want 64 hex digits that hold no secret", fp)
	}
}
