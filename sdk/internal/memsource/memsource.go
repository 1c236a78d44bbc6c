// Package memsource is an in-memory connector with injectable faults, for
// the SDK's own tests: the adapters, the error mapping and the conformance
// kit are tested against it, good and broken. Connectors must not use it.
package memsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// GoodEndpoint is the only endpoint Check and Read can reach.
const GoodEndpoint = "mem://ok"

// Faults are the bugs a Source can be told to have.
type Faults struct {
	LoseOnResume       bool   // resuming from a position skips the record after it
	RepeatOnResume     bool   // resuming from a position sends the record before it again
	LeakSecret         bool   // Check's error on a bad endpoint shows the token
	NoParamDescription bool   // the token parameter has no description
	RandomIDs          bool   // ids change from read to read
	PanicOnBadEndpoint bool   // Check panics on a bad endpoint
	AnyPosition        bool   // a corrupt position reads from the start
	MoreForever        bool   // Read always reports More
	ExtraRecord        bool   // Read returns one record more than asked
	BadPayload         bool   // payloads are not JSON
	UndeclaredKind     bool   // records have a kind the spec does not declare
	NoNext             bool   // Read returns records but no next position
	Err                error  // Check and Read return it (with the token in the text)
	Panic              string // Read panics with this value
	Block              bool   // Read waits until its context is done
	// ActOnRead takes a Read from a position as proof that the records
	// before it are committed, and removes them from the source (as a
	// connector that archives files on the next Read would): a hub that
	// read ahead and died loses them.
	ActOnRead bool
}

// Source serves Records records with ids rec-0000, rec-0001, …
type Source struct {
	Records int
	Faults  Faults

	mu      sync.Mutex
	removed int // records removed from the source (ActOnRead)
}

var _ sdk.Connector = (*Source)(nil)

// Spec implements sdk.Connector.
func (s *Source) Spec() sdk.Spec {
	token := "Access token for the endpoint."
	if s.Faults.NoParamDescription {
		token = ""
	}
	return sdk.Spec{
		Name:        "memory",
		Version:     "1.0.0",
		Description: "Serves records from memory, for the SDK's tests.",
		Params: []sdk.Param{
			{Name: "endpoint", Type: sdk.TypeString, Required: true, Description: "Where the records are; only " + GoodEndpoint + " answers."},
			{Name: "token", Type: sdk.TypeString, Secret: true, Description: token},
			{Name: "page", Type: sdk.TypeInt, Default: "1000", Description: "Most records returned per call, whatever the hub asks for."},
		},
		Kinds: []string{"item"},
	}
}

func (s *Source) reach(cfg sdk.Config) error {
	if s.Faults.Err != nil {
		return fmt.Errorf("token %s: %w", cfg.Get("token"), s.Faults.Err)
	}
	if ep := cfg.Get("endpoint"); ep != GoodEndpoint {
		if s.Faults.PanicOnBadEndpoint {
			panic("cannot reach " + ep)
		}
		if s.Faults.LeakSecret {
			return fmt.Errorf("endpoint %s refused token %s", ep, cfg.Get("token"))
		}
		return fmt.Errorf("endpoint %s: connection refused", ep)
	}
	return nil
}

// Check implements sdk.Connector.
func (s *Source) Check(ctx context.Context, cfg sdk.Config) error {
	return s.reach(cfg)
}

// Read implements sdk.Connector. Positions are "mem:N": N records read.
func (s *Source) Read(ctx context.Context, cfg sdk.Config, pos sdk.Position, max int) (sdk.ReadResult, error) {
	if s.Faults.Panic != "" {
		panic(s.Faults.Panic)
	}
	if s.Faults.Block {
		<-ctx.Done()
		return sdk.ReadResult{}, fmt.Errorf("read: %w", ctx.Err())
	}
	if err := s.reach(cfg); err != nil {
		return sdk.ReadResult{}, err
	}
	from := 0
	if len(pos) > 0 {
		n, err := strconv.Atoi(strings.TrimPrefix(string(pos), "mem:"))
		switch {
		case (err != nil || n < 0 || n > s.Records || !strings.HasPrefix(string(pos), "mem:")) && !s.Faults.AnyPosition:
			return sdk.ReadResult{}, fmt.Errorf("position %q: %w", pos, sdk.ErrInvalidPosition)
		case err != nil || n < 0 || n > s.Records:
			n = 0
		case s.Faults.LoseOnResume && n < s.Records:
			n++
		case s.Faults.RepeatOnResume && n > 0:
			n--
		}
		from = n
	}
	if s.Faults.ActOnRead {
		s.mu.Lock()
		if from > s.removed {
			s.removed = from // the records before from "are committed"
		}
		from = s.removed
		s.mu.Unlock()
	}
	max = min(max, cfg.Int("page"))
	if s.Faults.ExtraRecord {
		max++
	}
	to := min(from+max, s.Records)
	var res sdk.ReadResult
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		r := sdk.Record{
			Kind:     "item",
			ID:       fmt.Sprintf("rec-%04d", i),
			Payload:  json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
			Time:     base.Add(time.Duration(i) * time.Minute),
			Position: sdk.Position(fmt.Sprintf("mem:%d", i+1)),
		}
		if s.Faults.RandomIDs {
			r.ID = fmt.Sprintf("rec-%x", rand.Int64())
		}
		if s.Faults.BadPayload {
			r.Payload = json.RawMessage(`{"n":`)
		}
		if s.Faults.UndeclaredKind {
			r.Kind = "surprise"
		}
		res.Records = append(res.Records, r)
	}
	res.Next = sdk.Position(fmt.Sprintf("mem:%d", to))
	if s.Faults.NoNext {
		res.Next = nil
	}
	res.More = to < s.Records || s.Faults.MoreForever
	return res, nil
}

// Pusher is a Source that also accepts webhooks signed with the token.
type Pusher struct{ Source }

var _ sdk.WebhookHandler = (*Pusher)(nil)

// Webhook implements sdk.WebhookHandler: the body is a JSON array of
// numbers, each one record.
func (p *Pusher) Webhook(ctx context.Context, cfg sdk.Config, req sdk.WebhookRequest) (sdk.WebhookResult, error) {
	if err := sdk.VerifyHMACSHA256([]byte(cfg.Get("token")), req.Body, req.Headers.Get("X-Signature")); err != nil {
		return sdk.WebhookResult{}, fmt.Errorf("memory webhook: %w", err)
	}
	var ns []int
	if err := json.Unmarshal(req.Body, &ns); err != nil {
		return sdk.WebhookResult{}, errors.New("memory webhook: want a JSON array of numbers")
	}
	var res sdk.WebhookResult
	for _, n := range ns {
		res.Records = append(res.Records, sdk.Record{
			Kind: "item", ID: fmt.Sprintf("push-%d", n), Payload: json.RawMessage(strconv.Itoa(n)),
			Time: time.Date(2026, 3, 2, 0, 0, n, 0, time.UTC),
		})
	}
	return res, nil
}
