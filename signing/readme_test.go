package signing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/webhooks"
)

// readmeVerifyMarker comes on the line before each of README.md's snippets that verify a webhook delivery.
const readmeVerifyMarker = "<!-- webhook-verify: "

// readmeSnippet is the fenced block of language lang that follows "<!-- webhook-verify: name -->".
func readmeSnippet(t *testing.T, name, lang string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	i := slices.Index(lines, readmeVerifyMarker+name+" -->")
	if i < 0 || i+1 >= len(lines) || lines[i+1] != "```"+lang {
		t.Fatalf("README.md has no %s%s --> line followed by a ```%s fence", readmeVerifyMarker, name, lang)
	}
	end := slices.Index(lines[i+2:], "```")
	if end < 0 {
		t.Fatalf("README.md: the %s snippet is not closed", name)
	}
	return strings.Join(lines[i+2:i+2+end], "\n") + "\n"
}

// readmeDelivery is one delivery a README snippet must judge.
type readmeDelivery struct {
	name      string
	ts        string // X-Steward-Timestamp
	sig       string // X-Steward-Signature
	path      string // where it was received
	body      []byte
	genuine   bool
	tampering string // what was changed, for the failure message
}

// readmeDeliveries: one delivery signed with signing.V2 and the subscription's secret and one the dispatcher
// sent, accepted; the same delivery with its body, path, signature, secret or timestamp changed, or
// signed too long ago, refused. During a rotation's overlap a delivery carries two signatures: accepted
// whichever of them is the receiver's secret's, the dispatcher's too; refused when neither is.
func readmeDeliveries(t *testing.T) (secret string, ds []readmeDelivery) {
	t.Helper()
	secret = "whsec_7Qm2vZ0c4YJpRkN9sE1fLx3b"
	body, err := json.Marshal(map[string]any{"id": "evt_0d3b5a9e1c7f2a4b6d8e0f12", "type": "sla.breached",
		"created_at": "2026-12-01T02:20:00Z", "case_id": "sos:ORD-1001", "order_id": "ORD-1001", "customer_id": "c-77",
		"service": "sos", "sequence": 4, "data": map[string]any{"event": "sla_breached", "actor": "system",
			"detail": "response clause breached: not met by 2026-12-01 10:20 CST; refund now 50% (¥2,500.00)"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	path := "/hooks/steward?tenant=7"
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := signing.V2([]byte(secret), now, "POST", path, body)
	// Sanity: the lead's verifier agrees with what the snippets must conclude.
	if bound, err := signing.Verify([]byte(secret), now, ts, sig, "POST", path, body); err != nil || !bound {
		t.Fatalf("signing.Verify refuses a v2 delivery: %v", err)
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = 'x' // "sla.breached" becomes "sla.breachex": same length, another body
	flipped := sig[:len(sig)-1] + "0"
	if strings.HasSuffix(sig, "0") {
		flipped = sig[:len(sig)-1] + "1"
	}
	old := now.Add(-10 * time.Minute)
	other := []byte("whsec_the_other_secret_of_a_rotation")
	withOther := signing.V2(other, now, "POST", path, body)
	return secret, []readmeDelivery{
		{name: "genuine", ts: ts, sig: sig, path: path, body: body, genuine: true},
		dispatched(t, secret, path, body),
		{name: "body", ts: ts, sig: sig, path: path, body: tampered, tampering: "a byte of the body"},
		{name: "newline", ts: ts, sig: sig, path: path, body: append(append([]byte(nil), body...), '\n'), tampering: "a newline after the body"},
		{name: "path", ts: ts, sig: sig, path: "/hooks/other?tenant=7", body: body, tampering: "the path"},
		{name: "signature", ts: ts, sig: flipped, path: path, body: body, tampering: "the signature's last digit"},
		{name: "secret", ts: ts, sig: signing.V2([]byte(secret+"x"), now, "POST", path, body), path: path, body: body, tampering: "the secret"},
		{name: "timestamp", ts: strconv.FormatInt(now.Unix()+1, 10), sig: sig, path: path, body: body, tampering: "the timestamp header"},
		{name: "v1", ts: ts, sig: signing.V1([]byte(secret), now, body), path: path, body: body, tampering: "a v1 signature"},
		{name: "stale", ts: strconv.FormatInt(old.Unix(), 10), sig: signing.V2([]byte(secret), old, "POST", path, body), path: path, body: body,
			tampering: "signed 10 minutes ago"},
		{name: "overlap-new", ts: ts, sig: sig + "," + withOther, path: path, body: body, genuine: true},
		{name: "overlap-old", ts: ts, sig: withOther + "," + sig, path: path, body: body, genuine: true},
		dispatchedOverlap(t, secret, other, path, body),
		{name: "overlap-neither", ts: ts, sig: withOther + "," + signing.V2([]byte(secret+"x"), now, "POST", path, body), path: path, body: body,
			tampering: "two signatures, neither with the secret"},
	}
}

// dispatchedOverlap is a delivery the dispatcher sent during a rotation's overlap, from a subscription whose
// new secret is current and whose previous one, the receiver's, still signs.
func dispatchedOverlap(t *testing.T, previous string, current []byte, path string, body []byte) readmeDelivery {
	t.Helper()
	until := time.Now().Add(time.Hour)
	d := dispatchedFrom(t, &db.WebhookSubscription{ID: "whs_readme", Secret: string(current), PreviousSecret: previous, PreviousUntil: &until,
		AllowPrivate: true}, path, body)
	if !strings.Contains(d.sig, ",") {
		t.Fatalf("the dispatcher sent one signature during the overlap: %q", d.sig)
	}
	d.name = "dispatched-overlap"
	return d
}

// dispatched is a delivery as the worker's dispatcher sends it (webhooks.Dispatcher.Send), caught by a
// receiver on path.
func dispatched(t *testing.T, secret, path string, body []byte) readmeDelivery {
	t.Helper()
	return dispatchedFrom(t, &db.WebhookSubscription{ID: "whs_readme", Secret: secret, AllowPrivate: true}, path, body)
}

// dispatchedFrom is a delivery the dispatcher sent for subscription sub (its URL is set here), caught on path.
func dispatchedFrom(t *testing.T, sub *db.WebhookSubscription, path string, body []byte) readmeDelivery {
	t.Helper()
	got := make(chan readmeDelivery, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- readmeDelivery{name: "dispatched", ts: r.Header.Get(signing.HeaderTimestamp), sig: r.Header.Get(signing.HeaderSignature),
			path: r.URL.RequestURI(), body: b, genuine: true}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := &webhooks.Dispatcher{Timeout: 10 * time.Second}
	sub.URL = srv.URL + path
	if _, err := d.Send(t.Context(), sub, &db.WebhookEvent{ID: "evt_0d3b5a9e1c7f2a4b6d8e0f12", Type: "sla.breached", Payload: body}); err != nil {
		t.Fatalf("dispatcher: %v", err)
	}
	return <-got
}

// TestReadmeVerifyShell: README's shell snippet, run with bash, accepts a delivery signed with signing.V2 and
// refuses every tampered one.
func TestReadmeVerifyShell(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	snippet := readmeSnippet(t, "shell", "sh")
	secret, ds := readmeDeliveries(t)
	dir := t.TempDir()
	for _, d := range ds {
		t.Run(d.name, func(t *testing.T) {
			file := filepath.Join(dir, d.name+".json")
			if err := os.WriteFile(file, d.body, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			script := snippet + `verify_webhook "$TS" "$SIG" "$WEBHOOK_PATH" "$BODY_FILE" && echo genuine || echo refused`
			cmd := exec.CommandContext(ctx, "bash", "-c", script)
			cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "TS="+d.ts, "SIG="+d.sig, "WEBHOOK_PATH="+d.path, "BODY_FILE="+file)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			want := map[bool]string{true: "genuine", false: "refused"}[d.genuine]
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("shell snippet on a delivery with %s changed: %q; want %q", or(d.tampering, "nothing"), got, want)
			}
		})
	}
}

// TestReadmeVerifyGo: README's Go snippet, compiled with only the standard library, accepts a delivery
// signed with signing.V2 and refuses every tampered one.
func TestReadmeVerifyGo(t *testing.T) {
	snippet := readmeSnippet(t, "go", "go")
	secret, ds := readmeDeliveries(t)
	type input struct {
		Name, TS, Sig, Path string
		Body                []byte
	}
	var in []input
	for _, d := range ds {
		in = append(in, input{d.name, d.ts, d.sig, d.path, d.body})
	}
	cases, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// The snippet is a function; the program around it feeds it each delivery as an http.Header would carry it.
	program := `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

var _, _, _, _, _ = hmac.New, sha256.New, hex.EncodeToString, strconv.ParseInt, strings.Split

` + snippet + `
func main() {
	var cases []struct {
		Name, TS, Sig, Path string
		Body                []byte
	}
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	for _, c := range cases {
		h := http.Header{}
		h.Set("X-Steward-Timestamp", c.TS)
		h.Set("X-Steward-Signature", c.Sig)
		fmt.Println(c.Name, verifyWebhook([]byte(` + strconv.Quote(secret) + `), c.Path, h, c.Body, time.Now()))
	}
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module readmeverify\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", ".")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(cases))
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's Go snippet does not run: %v\n%s\n--- program\n%s", err, out, program)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, verdict, _ := strings.Cut(line, " ")
		got[name] = verdict
	}
	for _, d := range ds {
		if want := fmt.Sprint(d.genuine); got[d.name] != want {
			t.Errorf("Go snippet on a delivery with %s changed: %q; want %s", or(d.tampering, "nothing"), got[d.name], want)
		}
	}
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
