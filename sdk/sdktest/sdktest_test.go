package sdktest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/internal/memsource"
	"github.com/lothub/lothub/sdk/sdktest"
)

const token = "tok-3c1f9e77"

func harness(c sdk.Connector, n int) sdktest.Harness {
	return sdktest.Harness{
		New:         func() sdk.Connector { return c },
		Config:      map[string]string{"endpoint": memsource.GoodEndpoint, "token": token},
		BadEndpoint: map[string]string{"endpoint": "mem://down", "token": token},
		Expect:      n,
	}
}

func TestRunPassesGoodConnectors(t *testing.T) {
	t.Run("Source", func(t *testing.T) {
		sdktest.Run(t, harness(&memsource.Source{Records: 57}, 57))
	})
	t.Run("Empty", func(t *testing.T) {
		sdktest.Run(t, harness(&memsource.Source{}, 0))
	})
	t.Run("SmallPages", func(t *testing.T) {
		h := harness(&memsource.Source{Records: 11}, 11)
		h.Config["page"] = "2" // fewer records per call than asked for
		sdktest.Run(t, h)
	})
	t.Run("Pusher", func(t *testing.T) {
		h := harness(&memsource.Pusher{Source: memsource.Source{Records: 5}}, 5)
		body := []byte("[1,2,3]")
		h.Webhook = &sdktest.WebhookCase{
			Request: sdk.WebhookRequest{Method: "POST", Body: body,
				Headers: map[string][]string{"X-Signature": {sdk.SignHMACSHA256([]byte(token), body)}}},
			Expect: 3,
		}
		sdktest.Run(t, h)
	})
}

// The kit is only worth something if it fails broken connectors. Each case
// runs TestBrokenConnector in a child test process, with one fault, and
// expects it to fail saying why.
func TestRunCatchesBrokenConnectors(t *testing.T) {
	tests := []struct {
		fault string
		want  string
	}{
		{"LoseOnResume", "ids missing"},
		{"RepeatOnResume", "extra ids"},
		{"LeakSecret", "the error shows a secret value"},
		{"NoParamDescription", `param "token" has no description`},
		{"RandomIDs", "a second full read gave other ids"},
		{"PanicOnBadEndpoint", "Check panicked: cannot reach mem://down"},
		{"AnyPosition", "want an error wrapping sdk.ErrInvalidPosition"},
		{"MoreForever", "still reports More"},
		{"ExtraRecord", "Read(max=1) returned 2 records"},
		{"BadPayload", "payload is not valid JSON"},
		{"UndeclaredKind", `kind "surprise" is not declared`},
		{"NoNext", "empty Next position"},
		{"WrongExpect", "want Harness.Expect = 8"},
		{"WebhookNotSet", "set Harness.Webhook"},
		// Only the crash check: the fault breaks resuming in general, and
		// this proves the crash check alone catches it.
		{"ActOnRead", "a hub killed after committing 0 batch(es)"},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			run := "-test.run=^TestBrokenConnector$"
			if tt.fault == "ActOnRead" {
				run += "/^InProcess$/^(ReadAll|CrashBeforeCommit)$"
			}
			cmd := exec.Command(os.Args[0], run, "-test.count=1")
			cmd.Env = append(os.Environ(), "SDKTEST_FAULT="+tt.fault)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed a connector with fault %s:\n%s", tt.fault, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("the kit failed fault %s without saying %q:\n%s", tt.fault, tt.want, out)
			}
		})
	}
}

// TestBrokenConnector runs the kit against the connector fault
// $SDKTEST_FAULT names; TestRunCatchesBrokenConnectors starts it. Without
// the variable it checks nothing.
func TestBrokenConnector(t *testing.T) {
	fault := os.Getenv("SDKTEST_FAULT")
	if fault == "" {
		return
	}
	src := &memsource.Source{Records: 7}
	expect := 7
	var c sdk.Connector = src
	f := &src.Faults
	switch fault {
	case "LoseOnResume":
		f.LoseOnResume = true
	case "RepeatOnResume":
		f.RepeatOnResume = true
	case "LeakSecret":
		f.LeakSecret = true
	case "NoParamDescription":
		f.NoParamDescription = true
	case "RandomIDs":
		f.RandomIDs = true
	case "PanicOnBadEndpoint":
		f.PanicOnBadEndpoint = true
	case "AnyPosition":
		f.AnyPosition = true
	case "MoreForever":
		f.MoreForever = true
	case "ExtraRecord":
		f.ExtraRecord = true
	case "BadPayload":
		f.BadPayload = true
	case "UndeclaredKind":
		f.UndeclaredKind = true
	case "NoNext":
		f.NoNext = true
	case "ActOnRead":
		f.ActOnRead = true
	case "WrongExpect":
		expect = 8
	case "WebhookNotSet":
		c = &memsource.Pusher{Source: memsource.Source{Records: src.Records, Faults: src.Faults}}
	default:
		t.Fatalf("unknown fault %q", fault)
	}
	sdktest.Run(t, harness(c, expect))
}
