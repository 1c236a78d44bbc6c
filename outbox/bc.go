package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// bcJournal writes a lot-tracked item journal line to Dynamics 365
// Business Central and posts it.
//
// What BC's standard API v2.0 cannot do, precisely: it has no item
// journal (journals/journalLines are general journal lines: accounts and
// amounts, no item, no lot), purchaseReceipts and itemLedgerEntries are
// read-only, and purchaseOrders' Microsoft.NAV.receiveAndInvoice receives
// and invoices the whole order with no item tracking. No standard
// endpoint takes a lot number (BC keeps it in reservation entries, Item
// Tracking Lines). So this action needs a custom API page that the BC
// administrator publishes (docs/actions.md has the AL source, ~60
// lines): entity itemJournalLine / itemJournalLines at
// api/{publisher}/{group}/{version} (options.api, default
// api/lothub/traceability/v1.0), whose lotNumber field creates the item
// tracking, with a bound action Microsoft.NAV.post that posts the line.
//
// The idempotency key (its first 20 characters: BC's Document No. is
// Code[20]) is the line's documentNumber and externalDocumentNumber;
// after posting, the standard itemLedgerEntries find it by
// documentNumber. OAuth 2.0: Entra ID client credentials (client_id,
// client_secret, the connector's tenant_id) or a token.
type bcJournal struct{}

func bcKey(d *Delivery) string { return d.Key[:20] }

func bcCompanyRoot(d *Delivery, api string) (string, error) {
	base := d.Action.URL.Value()
	if base == "" && d.Conn != nil {
		base = d.Conn.Config["base_url"].Value()
		if base == "" {
			base = "https://api.businesscentral.dynamics.com/v2.0/" + d.Conn.Config["tenant_id"].Value() + "/" + orDefault(d.Conn.Config["bc_environment"].Value(), "production")
		}
	}
	company := connValue(d, "bc_company_id")
	if base == "" || company == "" {
		return "", permanent("action %s: Business Central needs the connector's base_url (or tenant_id) and bc_company_id", d.Action.Name)
	}
	return strings.TrimRight(base, "/") + "/" + api + "/companies(" + company + ")", nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func bcAuth(ctx context.Context, d *Delivery) (http.Header, error) {
	tok := d.Action.Credential("token")
	if tok == "" {
		tokenURL := d.Action.Credential("token_url")
		if tokenURL == "" && d.Conn != nil {
			tokenURL = "https://login.microsoftonline.com/" + d.Conn.Config["tenant_id"].Value() + "/oauth2/v2.0/token"
		}
		cc := clientcredentials.Config{ClientID: d.Action.Credential("client_id"), ClientSecret: d.Action.Credential("client_secret"),
			TokenURL: tokenURL, Scopes: []string{orDefault(d.Action.Options["scope"], "https://api.businesscentral.dynamics.com/.default")},
			AuthStyle: oauth2.AuthStyleInParams}
		t, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, d.Client))
		if err != nil {
			var re *oauth2.RetrieveError
			if asRetrieve(err, &re) && re.Response != nil && re.Response.StatusCode < 500 && re.Response.StatusCode != 429 {
				return nil, permanent("sign in to Entra ID at %s refused the write credentials: %v (check client_id, client_secret and the app's BC permissions)", redactURL(tokenURL), err)
			}
			return nil, fmt.Errorf("sign in to Entra ID: %w", err)
		}
		tok = t.AccessToken
	}
	return http.Header{"Authorization": {"Bearer " + tok}}, nil
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	for e := err; e != nil; {
		if r, ok := e.(*oauth2.RetrieveError); ok {
			*re = r
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func bcAPI(d *Delivery) string {
	return orDefault(d.Action.Options["api"], "api/lothub/traceability/v1.0")
}

func (bcJournal) lookup(ctx context.Context, d *Delivery) (string, bool, error) {
	h, err := bcAuth(ctx, d)
	if err != nil {
		return "", false, err
	}
	filter := url.Values{"$filter": {"documentNumber eq '" + bcKey(d) + "'"}}
	enc := "?" + strings.ReplaceAll(filter.Encode(), "+", "%20")
	// Posted: an item ledger entry (standard API) with the document number.
	std, err := bcCompanyRoot(d, "api/v2.0")
	if err != nil {
		return "", false, err
	}
	_, b, err := call(ctx, d, http.MethodGet, std+"/itemLedgerEntries"+enc, h, nil)
	if err != nil {
		return "", false, err
	}
	var v struct {
		Value []struct {
			EntryNumber int `json:"entryNumber"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", false, fmt.Errorf("read item ledger entries by document number: %w", err)
	}
	if len(v.Value) > 0 {
		return fmt.Sprintf("%s (item ledger entry %d)", bcKey(d), v.Value[0].EntryNumber), true, nil
	}
	return "", false, nil
}

func (bcJournal) deliver(ctx context.Context, d *Delivery) (string, error) {
	if err := require(d, "journal", "item", "lot", "quantity"); err != nil {
		return "", err
	}
	qty, err := number(d, "quantity")
	if err != nil {
		return "", err
	}
	evTime, _ := d.Event.Timestamp()
	posting, err := dateField(d, "posting_date", evTime)
	if err != nil {
		return "", err
	}
	root, err := bcCompanyRoot(d, bcAPI(d))
	if err != nil {
		return "", err
	}
	h, err := bcAuth(ctx, d)
	if err != nil {
		return "", err
	}
	line := map[string]any{
		"journalBatchName": field(d, "journal"), "entryType": orDefault(field(d, "entry_type"), "Positive Adjmt."),
		"itemNumber": field(d, "item"), "quantity": qty, "lotNumber": field(d, "lot"),
		"postingDate": posting.Format(time.DateOnly), "documentNumber": bcKey(d), "externalDocumentNumber": d.Key,
	}
	if s := field(d, "location"); s != "" {
		line["locationCode"] = s
	}
	if s := field(d, "expiry_date"); s != "" {
		line["expirationDate"] = s
	}
	// A line created by an attempt that died before posting it is posted
	// now, not created twice.
	filter := url.Values{"$filter": {"documentNumber eq '" + bcKey(d) + "'"}}
	_, b, err := call(ctx, d, http.MethodGet, root+"/itemJournalLines?"+strings.ReplaceAll(filter.Encode(), "+", "%20"), h, nil, http.StatusNotFound)
	if err != nil {
		return "", err
	}
	var found struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	_ = json.Unmarshal(b, &found)
	var v struct {
		ID string `json:"id"`
	}
	if len(found.Value) > 0 {
		v.ID = found.Value[0].ID
	} else {
		_, b, err := call(ctx, d, http.MethodPost, root+"/itemJournalLines", h, line)
		if err != nil {
			return "", err
		}
		_ = json.Unmarshal(b, &v)
	}
	if v.ID == "" && d.Dry == nil {
		return "", fmt.Errorf("Business Central created the journal line without an id: the next attempt looks it up by document number %s", bcKey(d))
	}
	// Post it: the line becomes item ledger entries with the lot.
	if _, _, err := call(ctx, d, http.MethodPost, root+"/itemJournalLines("+v.ID+")/Microsoft.NAV.post", h, nil); err != nil {
		return "", fmt.Errorf("post item journal line %s: %w", v.ID, err)
	}
	return bcKey(d), nil
}
