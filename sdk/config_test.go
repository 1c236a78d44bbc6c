package sdk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

const password = "hunter2-very-secret"

func testSpec() sdk.Spec {
	return sdk.Spec{
		Name:        "erp",
		Version:     "1.0.0",
		Description: "Reads an ERP.",
		Params: []sdk.Param{
			{Name: "base_url", Type: sdk.TypeURL, Required: true, Description: "API root."},
			{Name: "user", Type: sdk.TypeString, Required: true, Description: "API user."},
			{Name: "password", Type: sdk.TypeString, Required: true, Secret: true, Description: "API password."},
			{Name: "page_size", Type: sdk.TypeInt, Default: "200", Description: "Documents per request."},
			{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "Per request."},
			{Name: "verify_tls", Type: sdk.TypeBool, Default: "true", Description: "Check the server certificate."},
			{Name: "plant", Type: sdk.TypeString, Description: "Plant to read; all when empty."},
		},
		Kinds: []string{"goods-receipt"},
	}
}

func validRaw() map[string]string {
	return map[string]string{"base_url": "https://erp.example.com/api", "user": "hub", "password": password}
}

// changed applies change to raw and returns it: an empty value deletes the
// parameter.
func changed(raw, change map[string]string) map[string]string {
	for k, v := range change {
		if v == "" {
			delete(raw, k)
		} else {
			raw[k] = v
		}
	}
	return raw
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name      string
		change    map[string]string // "" deletes
		wantParam []string          // parameters the error must name, in order
	}{
		{"OK", nil, nil},
		{"MissingRequired", map[string]string{"user": ""}, []string{"user"}},
		{"BlankRequired", map[string]string{"user": "  \t"}, []string{"user"}},
		{"MissingSecret", map[string]string{"password": ""}, []string{"password"}},
		{"BadInt", map[string]string{"page_size": "lots"}, []string{"page_size"}},
		{"BadDuration", map[string]string{"timeout": "30"}, []string{"timeout"}},
		{"NegativeDuration", map[string]string{"timeout": "-5s"}, []string{"timeout"}},
		{"BadBool", map[string]string{"verify_tls": "yes please"}, []string{"verify_tls"}},
		{"RelativeURL", map[string]string{"base_url": "/api"}, []string{"base_url"}},
		{"Unknown", map[string]string{"pasword": "x"}, []string{"pasword"}},
		{"Several", map[string]string{"user": "", "page_size": "x", "zzz": "1"}, []string{"user", "page_size", "zzz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sdk.ParseConfig(testSpec(), changed(validRaw(), tt.change))
			if len(tt.wantParam) == 0 {
				if err != nil {
					t.Fatalf("ParseConfig: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want an error naming %v", tt.wantParam)
			}
			var ic *sdk.InvalidConfigError
			if !errors.As(err, &ic) || ic.Param != tt.wantParam[0] {
				t.Errorf("errors.As found %+v, want the parameter %q", ic, tt.wantParam[0])
			}
			if !errors.Is(err, sdk.ErrInvalidConfig) {
				t.Errorf("%v does not match ErrInvalidConfig", err)
			}
			for _, p := range tt.wantParam {
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
					t.Errorf("error %q does not name %q", err, p)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestParseConfigSecretValueNotQuoted(t *testing.T) {
	spec := testSpec()
	spec.Params = append(spec.Params, sdk.Param{Name: "proxy", Type: sdk.TypeURL, Secret: true, Description: "Proxy with credentials."})
	raw := validRaw()
	raw["proxy"] = "not a url " + password
	_, err := sdk.ParseConfig(spec, raw)
	if err == nil || strings.Contains(err.Error(), password) {
		t.Fatalf("error %v: want one that does not show the value", err)
	}
}

func TestConfigGetters(t *testing.T) {
	raw := validRaw()
	raw["user"] = "  hub \n" // cleaned
	raw["timeout"] = "1m30s"
	raw["verify_tls"] = "false"
	cfg, err := sdk.ParseConfig(testSpec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Get("user"), "hub"; got != want {
		t.Errorf("Get(user) = %q, want %q", got, want)
	}
	if got, want := cfg.Int("page_size"), 200; got != want {
		t.Errorf("Int(page_size) = %d, want the default %d", got, want)
	}
	if got, want := cfg.Duration("timeout"), 90*time.Second; got != want {
		t.Errorf("Duration(timeout) = %v, want %v", got, want)
	}
	if cfg.Bool("verify_tls") {
		t.Errorf("Bool(verify_tls) = true, want false")
	}
	if u := cfg.URL("base_url"); u == nil || u.Host != "erp.example.com" {
		t.Errorf("URL(base_url) = %v", u)
	}
	if _, ok := cfg.Lookup("plant"); ok {
		t.Errorf("Lookup(plant) found a value; it has neither value nor default")
	}
	// Wrong type or unknown name: zero values, no panic.
	if cfg.Int("user") != 0 || cfg.URL("nope") != nil || cfg.Get("nope") != "" {
		t.Errorf("getters on the wrong type or an unknown name should return zero values")
	}
	var zero sdk.Config
	if zero.Get("user") != "" || zero.String() != "" || len(zero.Values()) != 0 {
		t.Errorf("the zero Config should be empty")
	}
	if got := cfg.Values()["password"]; got != password {
		t.Errorf("Values() lost the secret: %q", got)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	raw := validRaw()
	raw["base_url"] = "https://hub:" + password + "x@erp.example.com/api"
	cfg, err := sdk.ParseConfig(testSpec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := struct {
		Name string
		cfg  sdk.Config
	}{"x", cfg}
	outputs := map[string]string{
		"String":    cfg.String(),
		"%v":        fmt.Sprintf("%v", cfg),
		"%+v":       fmt.Sprintf("%+v", cfg),
		"%#v":       fmt.Sprintf("%#v", cfg),
		"%s":        fmt.Sprintf("%s", cfg),
		"nested %v": fmt.Sprintf("%v %+v %#v", wrapped, wrapped, []sdk.Config{cfg}),
		"slog":      logged.String(),
		"json":      string(asJSON),
		"error":     fmt.Errorf("sync with %v: %w", cfg, errors.New("boom")).Error(),
		"Redact":    cfg.Redact("login failed for " + password + " and " + password + "x"),
	}
	for name, out := range outputs {
		if strings.Contains(out, password) {
			t.Errorf("%s shows a secret: %s", name, out)
		}
	}
	if s := cfg.String(); !strings.Contains(s, "password="+sdk.Redacted) || !strings.Contains(s, "user=hub") {
		t.Errorf("String() = %q, want the user in clear and the password redacted", s)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*sdk.Spec)
		want   string // in the error; "" for valid
	}{
		{"OK", func(*sdk.Spec) {}, ""},
		{"NoName", func(s *sdk.Spec) { s.Name = "" }, "spec name"},
		{"UpperName", func(s *sdk.Spec) { s.Name = "SAP" }, "spec name"},
		{"NoVersion", func(s *sdk.Spec) { s.Version = " " }, "spec version"},
		{"BadParamName", func(s *sdk.Spec) { s.Params[0].Name = "Base URL" }, "param 0 name"},
		{"DuplicateParam", func(s *sdk.Spec) { s.Params[1].Name = "base_url" }, "declared twice"},
		{"UnknownType", func(s *sdk.Spec) { s.Params[1].Type = "float" }, "unknown type"},
		{"EmptyType", func(s *sdk.Spec) { s.Params[1].Type = "" }, "unknown type"},
		{"RequiredWithDefault", func(s *sdk.Spec) { s.Params[1].Default = "hub" }, "required parameter has no default"},
		{"SecretWithDefault", func(s *sdk.Spec) { s.Params[2].Required = false; s.Params[2].Default = "x" }, "secret parameter has no default"},
		{"SecretInt", func(s *sdk.Spec) { s.Params[3].Secret = true }, "only string and url"},
		{"BadDefault", func(s *sdk.Spec) { s.Params[3].Default = "many" }, `default "many"`},
		{"NoKinds", func(s *sdk.Spec) { s.Kinds = nil }, "at least one record kind"},
		{"BadKind", func(s *sdk.Spec) { s.Kinds = []string{"Goods Receipt"} }, "record kind"},
		{"DuplicateKind", func(s *sdk.Spec) { s.Kinds = []string{"a", "a"} }, "declared twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec()
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseConfigRefusesInvalidSpec(t *testing.T) {
	s := testSpec()
	s.Kinds = nil
	if _, err := sdk.ParseConfig(s, validRaw()); err == nil || !strings.Contains(err.Error(), "connector spec") {
		t.Errorf("ParseConfig with an invalid spec: %v", err)
	}
}
