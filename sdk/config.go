package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Redacted replaces secret values wherever the SDK prints a configuration.
const Redacted = "[REDACTED]"

// Config is a configuration validated against a [Spec]: every parameter is
// known, has a value of its type or its default, and required parameters are
// present. Build one with [ParseConfig]; connectors receive one from the SDK
// and read it with the typed getters, which return the zero value for a
// parameter that is unset or not declared.
//
// A Config is immutable and safe for concurrent use. Secret values are never
// printed: String, GoString (%#v), LogValue (log/slog) and MarshalJSON
// redact them, and a Config nested in another value prints as a pointer.
// Only [Config.Values] and the getters return them in clear.
type Config struct {
	c *config // behind a pointer so that fmt never walks into the values
}

type config struct {
	params []Param
	values map[string]string // cleaned; only parameters that have a value
}

// ParseConfig cleans raw (trims spaces), applies defaults and validates it
// against spec: unknown parameters, missing required ones and values of the
// wrong type are reported together, each as an [*InvalidConfigError] naming
// the parameter (errors.As finds the first). Error messages never include
// the value of a secret parameter.
func ParseConfig(spec Spec, raw map[string]string) (Config, error) {
	if err := spec.Validate(); err != nil {
		return Config{}, fmt.Errorf("connector spec: %w", err)
	}
	var errs []error
	values := make(map[string]string, len(spec.Params))
	for _, p := range spec.Params {
		v := strings.TrimSpace(raw[p.Name])
		if v == "" {
			if p.Required {
				errs = append(errs, InvalidConfig(p.Name, "required parameter is missing (%s)", p.Description))
				continue
			}
			v = p.Default
		}
		if v == "" {
			continue
		}
		if _, err := parseValue(p.Type, v); err != nil {
			if p.Secret {
				errs = append(errs, InvalidConfig(p.Name, "%v", err))
			} else {
				errs = append(errs, InvalidConfig(p.Name, "%q: %v", v, err))
			}
			continue
		}
		values[p.Name] = v
	}
	var unknown []string
	for k := range raw {
		if _, ok := spec.Param(k); !ok {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, InvalidConfig(k, "unknown parameter (connector %s knows: %s)", spec.Name, paramNames(spec)))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return Config{c: &config{params: slices.Clone(spec.Params), values: values}}, nil
}

func paramNames(spec Spec) string {
	if len(spec.Params) == 0 {
		return "no parameters"
	}
	names := make([]string, len(spec.Params))
	for i, p := range spec.Params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// parseValue parses v as a value of type t. Its errors never quote v.
func parseValue(t ParamType, v string) (any, error) {
	switch t {
	case TypeString:
		return v, nil
	case TypeInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errors.New("want an integer")
		}
		return n, nil
	case TypeBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return b, nil
	case TypeDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, errors.New("want a duration such as 30s, 5m or 1h30m")
		}
		if d < 0 {
			return nil, errors.New("want a duration that is not negative")
		}
		return d, nil
	case TypeURL:
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, errors.New("want an absolute URL such as https://erp.example.com/api")
		}
		return u, nil
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

func (c Config) param(name string) (Param, string, bool) {
	if c.c == nil {
		return Param{}, "", false
	}
	v, ok := c.c.values[name]
	if !ok {
		return Param{}, "", false
	}
	for _, p := range c.c.params {
		if p.Name == name {
			return p, v, true
		}
	}
	return Param{}, "", false
}

// Lookup returns the cleaned value of the parameter called name and whether
// it has one (given or defaulted).
func (c Config) Lookup(name string) (string, bool) {
	_, v, ok := c.param(name)
	return v, ok
}

// Get returns the cleaned value of the parameter called name, or "".
func (c Config) Get(name string) string {
	_, v, _ := c.param(name)
	return v
}

// Int returns the value of an int parameter, or 0.
func (c Config) Int(name string) int {
	n, _ := c.typed(name, TypeInt).(int)
	return n
}

// Bool returns the value of a bool parameter, or false.
func (c Config) Bool(name string) bool {
	b, _ := c.typed(name, TypeBool).(bool)
	return b
}

// Duration returns the value of a duration parameter, or 0.
func (c Config) Duration(name string) time.Duration {
	d, _ := c.typed(name, TypeDuration).(time.Duration)
	return d
}

// URL returns a copy of the value of a url parameter, or nil.
func (c Config) URL(name string) *url.URL {
	u, _ := c.typed(name, TypeURL).(*url.URL)
	return u
}

func (c Config) typed(name string, t ParamType) any {
	p, v, ok := c.param(name)
	if !ok || p.Type != t {
		return nil
	}
	x, _ := parseValue(t, v) // validated by ParseConfig
	return x
}

// Values returns a copy of the cleaned values, secrets in clear: for
// passing the configuration on (the SDK sends it to the plugin, which
// validates it again). Never log it.
func (c Config) Values() map[string]string {
	if c.c == nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(c.c.values))
	for k, v := range c.c.values {
		out[k] = v
	}
	return out
}

// redactedPairs returns name and printable value of every set parameter, in
// spec order.
func (c Config) redactedPairs() [][2]string {
	if c.c == nil {
		return nil
	}
	var out [][2]string
	for _, p := range c.c.params {
		v, ok := c.c.values[p.Name]
		if !ok {
			continue
		}
		out = append(out, [2]string{p.Name, printable(p, v)})
	}
	return out
}

func printable(p Param, v string) string {
	if p.Secret {
		return Redacted
	}
	if p.Type == TypeURL {
		if u, err := url.Parse(v); err == nil {
			return u.Redacted() // hides a password in user info
		}
	}
	return v
}

// String prints the configuration as name=value pairs with secrets
// redacted.
func (c Config) String() string {
	var b strings.Builder
	for i, kv := range c.redactedPairs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		if strings.ContainsAny(kv[1], " \t\n\"=") || kv[1] == "" {
			b.WriteString(strconv.Quote(kv[1]))
		} else {
			b.WriteString(kv[1])
		}
	}
	return b.String()
}

// GoString makes %#v print the redacted form too.
func (c Config) GoString() string { return "sdk.Config{" + c.String() + "}" }

// LogValue makes log/slog print the redacted form.
func (c Config) LogValue() slog.Value {
	pairs := c.redactedPairs()
	attrs := make([]slog.Attr, len(pairs))
	for i, kv := range pairs {
		attrs[i] = slog.String(kv[0], kv[1])
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the redacted form.
func (c Config) MarshalJSON() ([]byte, error) {
	m := make(map[string]string)
	for _, kv := range c.redactedPairs() {
		m[kv[0]] = kv[1]
	}
	return json.Marshal(m)
}

// Redact replaces every secret value of c (and every password in a url
// parameter) found in s with [Redacted]. The SDK applies it to error
// messages before they leave the plugin; connectors can apply it to any text
// they build from source responses.
func (c Config) Redact(s string) string {
	if c.c == nil {
		return s
	}
	return redactValues(c.c.params, c.c.values, s)
}

// redactValues is Redact for raw, possibly invalid, values.
func redactValues(params []Param, values map[string]string, s string) string {
	var secrets []string
	for _, p := range params {
		v := strings.TrimSpace(values[p.Name])
		if v == "" {
			continue
		}
		if p.Secret {
			secrets = append(secrets, v)
			if u, err := url.Parse(v); err == nil && p.Type == TypeURL {
				// The URL may also be printed in its escaped form.
				secrets = append(secrets, u.String())
			}
		}
		if p.Type == TypeURL {
			if u, err := url.Parse(v); err == nil {
				if pw, ok := u.User.Password(); ok && pw != "" {
					secrets = append(secrets, pw)
				}
			}
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return s
}
