package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	demoplant "github.com/lothub/lothub/examples/demo-plant"
)

// hub demo, run as the real binary: it writes the plant, serves it over
// SFTP, syncs it through the filedrop plugin process and prints the story.
// Run twice, it reads nothing the second time and tells the same story.
func TestDemo(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	plant := demoplant.Generate(demoplant.Config{})
	demo := func() string {
		t.Helper()
		cmd := exec.Command(hubBin, "demo", "--db", db, "--plant", filepath.Join(dir, "plant"))
		cmd.Dir = dir
		// The demo keeps its configuration in the user's cache folder.
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hub demo: %v\n%s", err, out)
		}
		return string(out)
	}

	out := demo()
	for _, want := range []string{
		"431 rows in 6 CSV files",
		"run 1 ok, 431 rows read, 430 events written",
		"quarantined: record " + plant.BadRow + " (kind ship)",
		"Recall of " + plant.Contaminated.Item + "/" + plant.Contaminated.Lot,
		"Customers to notify:",
		plant.ComplaintCustName,
		"Backward trace of " + plant.ComplaintLot.Item,
		plant.SupplierLot,
		"hub --db " + db + " recall " + plant.Contaminated.Item,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("hub demo does not say %q:\n%s", want, out)
		}
	}
	// It leaves ./hub.yaml and the mapping beside the database, with no
	// secret in them.
	if !strings.Contains(out, "wrote hub.yaml and demo-plant-mapping.yaml in "+dir) {
		t.Errorf("hub demo does not say where it wrote hub.yaml:\n%s", out)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "hub.yaml"))
	if err != nil {
		t.Fatalf("hub demo left no hub.yaml: %v", err)
	}
	for _, no := range []string{"${", "private_key", "password", "sftp://", "host_key"} {
		if strings.Contains(string(cfg), no) {
			t.Errorf("the hub.yaml hub demo leaves holds %q:\n%s", no, cfg)
		}
	}
	again := demo()
	if !strings.Contains(again, "run 2 ok, 0 rows read, 0 events written") {
		t.Errorf("second hub demo read the files again:\n%s", again)
	}
	if !strings.Contains(again, "./hub.yaml exists: not overwritten") {
		t.Errorf("second hub demo does not say it left hub.yaml alone:\n%s", again)
	}
	if cfg2, _ := os.ReadFile(filepath.Join(dir, "hub.yaml")); string(cfg2) != string(cfg) {
		t.Errorf("second hub demo changed hub.yaml")
	}
	story := func(s string) string { return s[strings.Index(s, "\n1. "):] }
	if story(again) != story(out) {
		t.Errorf("the second demo tells another story:\n%s\n---\n%s", story(out), story(again))
	}

	// The recall names the customers in the stable JSON too.
	cmd := exec.Command(hubBin, "--db", db, "recall", plant.Contaminated.Item, plant.Contaminated.Lot, "--json")
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("hub recall: %v", err)
	}
	var res struct {
		Customers []struct{ ID, Name string } `json:"customers"`
	}
	if err := json.Unmarshal(js, &res); err != nil || len(res.Customers) < 3 {
		t.Errorf("recall --json: %d customers, %v:\n%s", len(res.Customers), err, js)
	}
}

func TestIndent(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"a\nb\n"}, "  a\n  b\n"},
		{[]string{"a", "b\n", "\n", "c"}, "  ab\n\n  c"},
	}
	for _, tt := range tests {
		var b strings.Builder
		w := indent(&b)
		for _, s := range tt.writes {
			w.Write([]byte(s))
		}
		if b.String() != tt.want {
			t.Errorf("indent(%q) = %q, want %q", tt.writes, b.String(), tt.want)
		}
	}
}

// Right after hub demo, in its folder and with no file written by hand:
// hub sync of the demo's connector reads nothing new and doubles nothing,
// hub runs lists it, and hub serve starts and answers.
func TestDemoThenSyncRunsServe(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(hubBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir, "HUB_DB=", "HUB_CONFIG=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("demo"); err != nil {
		t.Fatalf("hub demo: %v\n%s", err, out)
	}
	for _, f := range []string{"hub.db", "hub.yaml", "demo-plant-mapping.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("hub demo left no ./%s: %v", f, err)
		}
	}
	out, err := run("sync", "demo-plant", "--json")
	if err != nil {
		t.Fatalf("hub sync demo-plant after hub demo: %v\n%s", err, out)
	}
	var r struct {
		Status  string `json:"status"`
		Records int    `json:"records"`
		Events  int    `json:"events"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
		t.Fatalf("hub sync --json: %v\n%s", err, out)
	}
	if r.Status != "ok" || r.Events != 0 || r.Records != 0 {
		t.Errorf("hub sync after hub demo: %+v, want ok with nothing read and no event written", r)
	}
	out, err = run("runs", "--json")
	if err != nil || strings.Count(out, `"connector": "demo-plant"`) != 2 {
		t.Errorf("hub runs: %v, want the demo's run and the sync's:\n%s", err, out)
	}
	serveAndStop(t, hubBin, dir, "")
}

// hub serve with no configuration at all starts on the defaults, saying
// so first.
func TestServeWithoutConfiguration(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	dir := t.TempDir()
	serveAndStop(t, hubBin, dir, "no configuration (no --config, $HUB_CONFIG or ./hub.yaml): serving on the defaults: database hub.db, no connectors")
	if _, err := os.Stat(filepath.Join(dir, "hub.db")); err != nil {
		t.Errorf("hub serve on defaults made no ./hub.db: %v", err)
	}
}

// serveAndStop starts hub serve in dir on a free loopback port, checks
// that its first line says first (when set), that GET /v1/health answers
// 200, and stops it with SIGINT: it must exit 0.
func serveAndStop(t *testing.T, hubBin, dir, first string) {
	t.Helper()
	cmd := exec.Command(hubBin, "serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HUB_DB=", "HUB_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var lines []string
	url := ""
	for url == "" && sc.Scan() {
		lines = append(lines, sc.Text())
		if _, after, ok := strings.Cut(sc.Text(), "hub serving on "); ok {
			url, _, _ = strings.Cut(after, " ")
		}
	}
	if url == "" {
		cmd.Wait()
		t.Fatalf("hub serve never said where it serves:\n%s\n%s", strings.Join(lines, "\n"), stderr.String())
	}
	if first != "" && !strings.Contains(lines[0], first) {
		t.Errorf("hub serve's first line %q, want it to say %q", lines[0], first)
	}
	resp, err := http.Get(url + "/v1/health")
	if err != nil {
		t.Fatalf("GET /v1/health: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/health: %s", resp.Status)
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("hub serve stopped by SIGINT: %v\n%s", err, stderr.String())
	}
}

// hub demo --serve syncs the demo plant, then serves the web application
// on its database, saying where and how to sign in; the pages answer, and
// SIGINT stops it cleanly.
func TestDemoServe(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	dir := t.TempDir()
	cmd := exec.Command(hubBin, "demo", "--serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir, "HUB_DB=", "HUB_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var lines []string
	url := ""
	for url == "" && sc.Scan() {
		lines = append(lines, sc.Text())
		if _, after, ok := strings.Cut(sc.Text(), "Open "); ok {
			url, _, _ = strings.Cut(after, "/ in a browser")
		}
	}
	out := strings.Join(lines, "\n")
	if url == "" {
		cmd.Wait()
		t.Fatalf("hub demo --serve never said where to open the web application:\n%s\n%s", out, stderr.String())
	}
	for _, want := range []string{"run 1 ok, 431 rows read", "Recall of FLOUR/20260303-FLOUR-001", "hub serving on " + url} {
		if !strings.Contains(out, want) {
			t.Errorf("hub demo --serve does not say %q:\n%s", want, out)
		}
	}
	sc.Scan()
	if !strings.Contains(sc.Text(), "Search for lot 20260303-FLOUR-001") {
		t.Errorf("hub demo --serve does not say what to look for: %q", sc.Text())
	}
	// The web application is there: a page sends a visitor to sign in,
	// and its stylesheet is served.
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(url + "/lot?item=FLOUR&lot=20260303-FLOUR-001")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Errorf("a page signed out: %s to %q, want 303 to /login", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = cl.Get(url + "/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /static/app.css: %s", resp.Status)
	}
	// The login it prints works: sign in as a person would (the form's
	// CSRF token from the page, name and password), then a page opens.
	_, pw, _ := strings.Cut(out, "sign in as user demo, password ")
	pw, _, _ = strings.Cut(pw, " ")
	if pw == "" {
		t.Fatalf("hub demo --serve prints no demo password:\n%s", out)
	}
	jar, _ := cookiejar.New(nil)
	cl.Jar = jar
	resp, err = cl.Get(url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("the sign-in page has no CSRF token:\n%s", page)
	}
	resp, err = cl.PostForm(url+"/login", neturl.Values{"name": {"demo"}, "password": {pw}, "csrf": {string(m[1])}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in with the printed demo login: %s, want 303", resp.Status)
	}
	resp, err = cl.Get(url + "/lot?item=FLOUR&lot=20260303-FLOUR-001")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "20260303-FLOUR-001") {
		t.Errorf("the contaminated lot's page after signing in as demo: %s\n%.500s", resp.Status, page)
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("hub demo --serve stopped by SIGINT: %v\n%s", err, stderr.String())
	}
}
