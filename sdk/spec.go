package sdk

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Spec describes a connector to the hub and to the admins who configure it.
type Spec struct {
	// Name is the connector's name: lowercase letters, digits and hyphens,
	// starting with a letter (sap, netsuite, mes-scans). The executable is
	// named lothub-connector-NAME.
	Name string
	// Version is the connector's own version (semantic versioning
	// recommended); it is recorded with every run.
	Version string
	// Description says in one sentence what the connector reads.
	Description string
	// Params are the configuration parameters, in the order they are
	// documented.
	Params []Param
	// Kinds are the record kinds the connector emits (goods-receipt,
	// scan, …): lowercase letters, digits, '.', '_' and '-'.
	Kinds []string
}

// ParamType is the type of a configuration parameter's value.
type ParamType string

// Parameter types. Values are written as strings in the hub's
// configuration file and parsed by [ParseConfig].
const (
	TypeString   ParamType = "string"
	TypeInt      ParamType = "int"      // decimal integer (strconv.Atoi)
	TypeBool     ParamType = "bool"     // true, false, 1, 0 (strconv.ParseBool)
	TypeDuration ParamType = "duration" // 30s, 5m, 1h30m (time.ParseDuration), not negative
	TypeURL      ParamType = "url"      // absolute URL with scheme and host
)

// Param declares one configuration parameter.
type Param struct {
	// Name is the key in the configuration: lowercase letters, digits and
	// underscores, starting with a letter (base_url, client_secret).
	Name string
	Type ParamType
	// Default is used when the parameter is absent or empty. It must be a
	// valid value of Type; required and secret parameters have none.
	Default string
	// Required parameters must be given a non-empty value.
	Required bool
	// Secret values (passwords, tokens, signing keys) are never printed:
	// [Config]'s String, GoString, LogValue and MarshalJSON redact them, and
	// the SDK removes them from error messages that cross the process
	// boundary. Only string and url parameters can be secret.
	Secret bool
	// Description says what the parameter is for, in a sentence an admin
	// can act on.
	Description string
}

var (
	specNameRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]*$`) })
	paramNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_]*$`) })
	kindRE      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9._-]*$`) })
)

// Validate reports every way s is malformed, joined into one error. A
// connector with an invalid spec is refused by [Serve] and by the hub.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !specNameRE().MatchString(s.Name) {
		bad("spec name %q: want lowercase letters, digits and hyphens, starting with a letter", s.Name)
	}
	if strings.TrimSpace(s.Version) == "" || strings.ContainsAny(s.Version, " \t\n") {
		bad("spec version %q: want a version without spaces, such as 1.2.0", s.Version)
	}
	seen := make(map[string]bool, len(s.Params))
	for i, p := range s.Params {
		if !paramNameRE().MatchString(p.Name) {
			bad("param %d name %q: want lowercase letters, digits and underscores, starting with a letter", i, p.Name)
			continue
		}
		if seen[p.Name] {
			bad("param %q: declared twice", p.Name)
		}
		seen[p.Name] = true
		if err := p.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(s.Kinds) == 0 {
		bad("spec kinds: declare at least one record kind")
	}
	kinds := make(map[string]bool, len(s.Kinds))
	for _, k := range s.Kinds {
		if !kindRE().MatchString(k) {
			bad("record kind %q: want lowercase letters, digits, '.', '_' and '-', starting with a letter", k)
		}
		if kinds[k] {
			bad("record kind %q: declared twice", k)
		}
		kinds[k] = true
	}
	return errors.Join(errs...)
}

func (p Param) validate() error {
	switch p.Type {
	case TypeString, TypeInt, TypeBool, TypeDuration, TypeURL:
	default:
		return fmt.Errorf("param %q: unknown type %q (want string, int, bool, duration or url)", p.Name, p.Type)
	}
	switch {
	case p.Secret && p.Type != TypeString && p.Type != TypeURL:
		return fmt.Errorf("param %q: only string and url parameters can be secret", p.Name)
	case p.Required && p.Default != "":
		return fmt.Errorf("param %q: a required parameter has no default", p.Name)
	case p.Secret && p.Default != "":
		return fmt.Errorf("param %q: a secret parameter has no default", p.Name)
	}
	if p.Default != "" {
		if _, err := parseValue(p.Type, p.Default); err != nil {
			return fmt.Errorf("param %q: default %q: %w", p.Name, p.Default, err)
		}
	}
	return nil
}

// Param returns the parameter called name.
func (s Spec) Param(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// HasKind reports whether kind is one of s.Kinds.
func (s Spec) HasKind(kind string) bool {
	for _, k := range s.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// clone returns a copy of s that shares no slice with it.
func (s Spec) clone() Spec {
	s.Params = append([]Param(nil), s.Params...)
	s.Kinds = append([]string(nil), s.Kinds...)
	return s
}
