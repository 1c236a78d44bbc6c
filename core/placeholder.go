package core

import (
	"fmt"
	"strings"
)

// DefaultLotPlaceholders are the lot numbers refused unless a hub
// configures its own list (hub.yaml lots: placeholders:): what people and
// ERPs write when they have no lot number. Empty and blank lot numbers
// are always refused (Validate).
var DefaultLotPlaceholders = []string{"*", "N/A", "-", "0"}

// LotPlaceholders tells placeholder lot numbers from real ones. Lot
// numbers are compared with surrounding white space removed and without
// regard to case: "n/a " is the placeholder "N/A".
type LotPlaceholders struct {
	set  map[string]bool
	list []string
}

// NewLotPlaceholders makes the check for a list; nil is
// DefaultLotPlaceholders, an empty list refuses no number but blank ones.
func NewLotPlaceholders(list []string) *LotPlaceholders {
	if list == nil {
		list = DefaultLotPlaceholders
	}
	p := &LotPlaceholders{set: make(map[string]bool, len(list)), list: list}
	for _, s := range list {
		p.set[strings.ToUpper(strings.TrimSpace(s))] = true
	}
	return p
}

// Check returns an EINVALID error naming the first lot of e whose number
// is a placeholder, or nil.
func (p *LotPlaceholders) Check(e *Event) error {
	for _, r := range e.Lots() {
		if p.set[strings.ToUpper(strings.TrimSpace(r.Lot))] {
			return Errorf(EINVALID, "event %s: lot number %q of item %s is a placeholder, not a lot number (placeholders: %s): record the real lot at the source, or change lots: placeholders: in hub.yaml if %q is a real lot number there",
				e.ID, r.Lot, r.Item, quotedList(p.list), r.Lot)
		}
	}
	return nil
}

func quotedList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
