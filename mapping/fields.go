package mapping

import (
	"encoding/json"

	"github.com/lothub/lothub/internal/jsonobject"
)

// DecodeFields decodes a record's payload, a JSON object, into its fields
// exactly as encoding/json decodes it into a map[string]any. What
// connectors send — objects of strings, numbers, booleans, nulls, nested
// objects and lists — is decoded in one pass (a sync decodes a million of
// them; json.Unmarshal reads each twice, once to check it); anything else
// (invalid input, numbers out of range, deep nesting) goes through
// encoding/json, for its exact result and error.
func DecodeFields(b []byte) (map[string]any, error) {
	if m, ok := jsonobject.Decode(b, false); ok {
		return m, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
