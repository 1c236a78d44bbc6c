package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Decoder reads a [Config] into a connector's own options and checks what
// a [Spec] cannot say: one of a few words, an integer in a range, a
// duration that must be positive, an IANA time zone, a date, a list. Each
// getter returns the value (the zero value when it is unset or wrong) and
// records what is wrong as an [*InvalidConfigError] naming the parameter;
// [Decoder.Err] returns every problem recorded, joined, in the order the
// getters were called. A connector reads all its parameters, then checks
// Err once:
//
//	d := sdk.NewDecoder(c.Spec(), cfg)
//	o := options{
//		system:   d.OneOf("system", "a system this connector reads", "s4hana", "b1"),
//		pageSize: d.IntBetween("page_size", 1, 5000),
//		timeout:  d.PositiveDuration("request_timeout"),
//		loc:      d.Location("timezone"),
//		password: d.Secret("password"),
//	}
//	if err := d.Err(); err != nil {
//		return options{}, err
//	}
//
// Messages never quote the value of a secret parameter. Unknown
// parameters are [ParseConfig]'s job, done before the connector is called;
// the getters apply the connector's own spec again — type, default,
// required — since a connector must not rely on its host having validated
// against it. An empty optional parameter without a default reads as the
// zero value without complaint.
//
// Asking for a parameter the spec does not declare, or declares with
// another type, is a bug in the connector: it is recorded as an error
// naming the parameter, so that the first test shows it.
type Decoder struct {
	spec Spec
	cfg  Config
	errs []error
}

// NewDecoder returns a Decoder reading cfg against spec, the connector's
// own: its parameters' types, defaults, required flags and secret flags
// are the ones the getters apply, whatever spec the host validated cfg
// against.
func NewDecoder(spec Spec, cfg Config) *Decoder { return &Decoder{spec: spec, cfg: cfg} }

// Err returns every problem recorded so far, joined (errors.As finds the
// first), or nil.
func (d *Decoder) Err() error { return errors.Join(d.errs...) }

// Invalid records a problem with the parameter called name that only the
// connector can see (a glob that does not compile, two parameters that
// exclude each other). Never put a secret value in the reason.
func (d *Decoder) Invalid(name, format string, args ...any) {
	d.errs = append(d.errs, InvalidConfig(name, format, args...))
}

// value returns the parameter called name as the spec declares it and its
// value parsed (string, int, bool, time.Duration or *url.URL), after
// checking that it has type t. ok is false when the parameter has no value
// (neither given nor defaulted) or a problem was recorded.
func (d *Decoder) value(name string, t ParamType) (p Param, v string, x any, ok bool) {
	p, declared := d.spec.Param(name)
	switch {
	case !declared:
		d.Invalid(name, "connector bug: the spec declares no such parameter")
		return Param{}, "", nil, false
	case p.Type != t:
		d.Invalid(name, "connector bug: the spec declares it as %s, read as %s", p.Type, t)
		return Param{}, "", nil, false
	}
	v, _ = d.cfg.Lookup(name)
	if v == "" {
		v = p.Default
	}
	if v == "" {
		if p.Required {
			// ParseConfig has checked this, but a connector must not rely
			// on its host having called it with this spec.
			d.Invalid(name, "required parameter is missing (%s)", p.Description)
		}
		return p, "", nil, false
	}
	x, err := parseValue(t, v)
	if err != nil {
		d.Invalid(name, "%s: %v", shown(p, v), err)
		return p, "", nil, false
	}
	return p, v, x, true
}

// shown is how a message quotes the value v of p: never a secret's.
func shown(p Param, v string) string {
	if p.Secret {
		return "the value"
	}
	return fmt.Sprintf("%q", v)
}

// String returns the value of a string parameter, or "".
func (d *Decoder) String(name string) string {
	_, v, _, _ := d.value(name, TypeString)
	return v
}

// refRE matches a hub.yaml secret reference, ${env:NAME} or ${file:/path}.
var refRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$\{(env|file):[^}]+\}$`) })

// Secret returns the value of a secret string parameter (password, token,
// key). The hub resolves the references ${env:NAME} and ${file:/path} when
// it loads hub.yaml (package config, the one place that reads them), so a
// connector receives the secret itself; a value still in reference form
// means the host did not resolve it, and is refused rather than sent to
// the source as a password. The message names the parameter, never the
// value.
func (d *Decoder) Secret(name string) string {
	p, v, _, _ := d.value(name, TypeString)
	switch {
	case p.Name != "" && !p.Secret:
		d.Invalid(name, "connector bug: read as a secret but not declared Secret: true")
		return ""
	case refRE().MatchString(v):
		d.Invalid(name, "is an unresolved ${env:…} or ${file:…} reference: the hub resolves references when it loads hub.yaml; a host that calls the connector itself must pass the secret's value")
		return ""
	}
	return v
}

// OneOf returns the value of a string parameter when it is one of values
// (compared without case), spelled as in values, or "" when it is unset.
// what names the kind of value in the message: "%q is not WHAT: want A, B
// or C".
func (d *Decoder) OneOf(name, what string, values ...string) string {
	p, v, _, ok := d.value(name, TypeString)
	if !ok {
		return ""
	}
	for _, want := range values {
		if strings.EqualFold(v, want) {
			return want
		}
	}
	d.Invalid(name, "%s is not %s: want %s", shown(p, v), what, orList(values))
	return ""
}

// orList writes "a", "a or b", "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return "nothing"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Int returns the value of an int parameter, or 0.
func (d *Decoder) Int(name string) int {
	_, _, x, _ := d.value(name, TypeInt)
	n, _ := x.(int)
	return n
}

// IntBetween returns the value of an int parameter when it is from lo to hi
// (inclusive), or 0.
func (d *Decoder) IntBetween(name string, lo, hi int) int {
	_, _, x, ok := d.value(name, TypeInt)
	n, _ := x.(int)
	if ok && (n < lo || n > hi) {
		d.Invalid(name, "%d is out of range: want %d to %d", n, lo, hi)
		return 0
	}
	return n
}

// IntAtLeast returns the value of an int parameter when it is lo or more,
// or 0.
func (d *Decoder) IntAtLeast(name string, lo int) int {
	_, _, x, ok := d.value(name, TypeInt)
	n, _ := x.(int)
	if ok && n < lo {
		d.Invalid(name, "%d is too small: want at least %d", n, lo)
		return 0
	}
	return n
}

// Bool returns the value of a bool parameter, or false.
func (d *Decoder) Bool(name string) bool {
	_, _, x, _ := d.value(name, TypeBool)
	b, _ := x.(bool)
	return b
}

// Duration returns the value of a duration parameter (0 or more), or 0.
func (d *Decoder) Duration(name string) time.Duration {
	_, _, x, _ := d.value(name, TypeDuration)
	v, _ := x.(time.Duration)
	return v
}

// PositiveDuration returns the value of a duration parameter when it is
// more than 0, or 0. The message shows the spec's default as an example.
func (d *Decoder) PositiveDuration(name string) time.Duration {
	return d.DurationAtLeast(name, 1)
}

// DurationAtLeast returns the value of a duration parameter when it is lo
// or more, or 0. An unset parameter counts as 0.
func (d *Decoder) DurationAtLeast(name string, lo time.Duration) time.Duration {
	n := len(d.errs)
	p, _, x, _ := d.value(name, TypeDuration)
	if len(d.errs) > n {
		return 0 // recorded
	}
	dur, _ := x.(time.Duration)
	switch {
	case dur >= lo:
		return dur
	case lo <= 1:
		d.Invalid(name, "want a positive duration%s", example(p))
	default:
		d.Invalid(name, "%s is too short: want at least %s%s", shortDuration(dur), shortDuration(lo), example(p))
	}
	return 0
}

// example is ", such as DEFAULT (the default)" when p has a default.
func example(p Param) string {
	if p.Default == "" {
		return ""
	}
	return ", such as " + p.Default + " (the default)"
}

// shortDuration prints 1m rather than 1m0s.
func shortDuration(v time.Duration) string {
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// URL returns a copy of the value of a url parameter, or nil.
func (d *Decoder) URL(name string) *url.URL {
	_, _, x, _ := d.value(name, TypeURL)
	u, _ := x.(*url.URL)
	return u
}

// Location returns the time zone a string parameter names (an IANA name
// such as Europe/Berlin, or UTC), or nil when it is unset. "Local" is
// refused: the hub's machine zone says nothing about the source's.
func (d *Decoder) Location(name string) *time.Location {
	p, v, _, ok := d.value(name, TypeString)
	if !ok {
		return nil
	}
	loc, err := time.LoadLocation(v)
	if err != nil || v == "Local" {
		d.Invalid(name, "%s is not an IANA time zone name: want one such as Europe/Berlin, America/Chicago or UTC", shown(p, v))
		return nil
	}
	return loc
}

// Date returns the date a string parameter gives as YYYY-MM-DD, at
// midnight in loc (UTC when nil), or the zero time when it is unset.
func (d *Decoder) Date(name string, loc *time.Location) time.Time {
	return d.instant(name, loc, false)
}

// DateOrTime returns the instant a string parameter gives as an RFC 3339
// time (2026-01-31T08:00:00Z) or a date (2026-01-31, midnight in loc, UTC
// when nil), in UTC, or the zero time when it is unset.
func (d *Decoder) DateOrTime(name string, loc *time.Location) time.Time {
	return d.instant(name, loc, true).UTC()
}

func (d *Decoder) instant(name string, loc *time.Location, timeOK bool) time.Time {
	p, v, _, ok := d.value(name, TypeString)
	if !ok {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil && timeOK {
		return t
	}
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(time.DateOnly, v, loc)
	switch {
	case err == nil:
		return t
	case timeOK:
		d.Invalid(name, "%s is not a date or a time: want one such as 2026-01-31 or an RFC 3339 time such as 2026-01-31T08:00:00Z", shown(p, v))
	default:
		d.Invalid(name, "%s is not a date: want YYYY-MM-DD, such as 2026-01-31", shown(p, v))
	}
	return time.Time{}
}

// List returns the items of a comma-separated string parameter (a line
// break counts as a comma), trimmed, without empty items; nil when unset.
func (d *Decoder) List(name string) []string {
	_, v, _, _ := d.value(name, TypeString)
	return splitFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
}

// Words returns the items of a string parameter separated by commas or
// white space, without empty items; nil when unset.
func (d *Decoder) Words(name string) []string {
	_, v, _, _ := d.value(name, TypeString)
	return splitFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

func splitFunc(s string, sep func(rune) bool) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Fingerprint identifies the values of the named parameters (all that are
// set when none is named) without holding them: a hex SHA-256 for keying
// caches of clients, sessions and tokens by configuration. Two configs
// with the same values have the same fingerprint; secrets cannot be read
// back from it.
func (c Config) Fingerprint(names ...string) string {
	vals := c.Values()
	if len(names) == 0 {
		for k := range vals {
			names = append(names, k)
		}
		slices.Sort(names)
	}
	h := sha256.New()
	for _, k := range names {
		fmt.Fprintf(h, "%s=%q\n", k, vals[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
