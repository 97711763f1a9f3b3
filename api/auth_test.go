package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerifySignature(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_780_000_000, 0)
	body := []byte(`{"order_id":"O-1"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(secret, now, body)
	tests := []struct {
		name    string
		ts, sig string
		body    []byte
		wantErr string
	}{
		{"valid", ts, good, body, ""},
		{"edge of window, past", strconv.FormatInt(now.Unix()-300, 10), Sign(secret, now.Add(-300*time.Second), body), body, ""},
		{"edge of window, future", strconv.FormatInt(now.Unix()+300, 10), Sign(secret, now.Add(300*time.Second), body), body, ""},
		{"expired", strconv.FormatInt(now.Unix()-301, 10), Sign(secret, now.Add(-301*time.Second), body), body, "window"},
		{"too far ahead", strconv.FormatInt(now.Unix()+301, 10), Sign(secret, now.Add(301*time.Second), body), body, "window"},
		{"tampered body", ts, good, []byte(`{"order_id":"O-2"}`), "does not match"},
		{"wrong secret", ts, Sign([]byte("other"), now, body), body, "does not match"},
		{"timestamp swapped", strconv.FormatInt(now.Unix()-1, 10), good, body, "does not match"},
		{"no version", ts, strings.TrimPrefix(good, "v1="), body, "version"},
		{"v3", ts, "v3=" + strings.TrimPrefix(good, "v1="), body, "version"},
		{"v1 mac sent as v2", ts, "v2=" + strings.TrimPrefix(good, "v1="), body, "does not match"},
		{"v2", ts, SignRequest(secret, now, http.MethodPost, "/v1/purchases", body), body, ""},
		{"v2 for another path", ts, SignRequest(secret, now, http.MethodPost, "/v1/cases/sos:A/cancel", body), body, "does not match"},
		{"v2 for another method", ts, SignRequest(secret, now, http.MethodGet, "/v1/purchases", body), body, "does not match"},
		{"not hex", ts, "v1=zz", body, "hex"},
		{"timestamp not a number", "yesterday", good, body, "unix seconds"},
		{"missing timestamp", "", good, body, "missing"},
		{"missing signature", ts, "", body, "missing"},
		{"truncated mac", ts, good[:21], body, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifySignature(secret, now, tt.ts, tt.sig, http.MethodPost, "/v1/purchases", tt.body)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("VerifySignature() = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("VerifySignature() = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzVerifySignature(f *testing.F) {
	secret := []byte("s3cret")
	now := time.Unix(1_780_000_000, 0)
	f.Add("1780000000", "v1=00", []byte(`{}`))
	f.Add("", "", []byte{})
	f.Add("-9223372036854775808", "v1=", []byte("x"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		_, err := VerifySignature(secret, now, ts, sig, http.MethodPost, "/v1/purchases", body)
		if err == nil && sig != Sign(secret, time.Unix(mustAtoi(ts), 0), body) && sig != SignRequest(secret, time.Unix(mustAtoi(ts), 0), http.MethodPost, "/v1/purchases", body) {
			t.Fatalf("accepted a signature that is not ours: ts=%q sig=%q", ts, sig)
		}
	})
}

func mustAtoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
