package epcis

import "strings"

// Bare returns the bare word of a CBV vocabulary value given in any of its
// three forms: bare word (shipping), CBV URN
// (urn:epcglobal:cbv:bizstep:shipping) or Web URI
// (https://ref.gs1.org/cbv/BizStep-shipping). EPCIS 2.0 JSON allows only the
// bare word and the Web URI, XML also the URN; lothub accepts all three on
// capture (errata to issue 19). A value of another vocabulary (a company's
// own URI) is returned unchanged.
func Bare(v string) string {
	if rest, ok := strings.CutPrefix(v, "urn:epcglobal:cbv:"); ok {
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			return rest[i+1:]
		}
		return v
	}
	for _, p := range []string{"https://ref.gs1.org/cbv/", "http://ref.gs1.org/cbv/"} {
		if rest, ok := strings.CutPrefix(v, p); ok {
			if i := strings.IndexByte(rest, '-'); i >= 0 {
				return rest[i+1:]
			}
			return v
		}
	}
	return v
}
