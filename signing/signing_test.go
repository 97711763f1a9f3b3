package signing_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-oss/steward/signing"
)

// TestVerifyAnyDuringRotation: a call signed with the current or the previous secret verifies, saying which;
// one signed with neither, or checked against the current secret alone, is refused.
func TestVerifyAnyDuringRotation(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	cur, prev, other := []byte("current-secret-0123456789"), []byte("previous-secret-0123456789"), []byte("unrelated-secret-0123456789")
	body := []byte(`{"order_id":"ORD-1"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	tests := []struct {
		name    string
		secrets [][]byte
		sig     string
		secret  int
		bound   bool
		wantErr string
	}{
		{"current, v2", [][]byte{cur, prev}, signing.V2(cur, now, "POST", "/v1/purchases", body), 0, true, ""},
		{"previous, v2", [][]byte{cur, prev}, signing.V2(prev, now, "POST", "/v1/purchases", body), 1, true, ""},
		{"previous, v1", [][]byte{cur, prev}, signing.V1(prev, now, body), 1, false, ""},
		{"previous after the rotation", [][]byte{cur}, signing.V2(prev, now, "POST", "/v1/purchases", body), 0, false, "does not match"},
		{"neither", [][]byte{cur, prev}, signing.V2(other, now, "POST", "/v1/purchases", body), 0, false, "does not match"},
		{"two signatures, the second good", [][]byte{cur}, signing.V2(other, now, "POST", "/v1/purchases", body) + "," + signing.V2(cur, now, "POST", "/v1/purchases", body), 0, true, ""},
		{"spaces after commas", [][]byte{cur}, signing.V1(other, now, body) + ", " + signing.V1(cur, now, body), 0, false, ""},
		{"too many signatures", [][]byte{cur}, strings.Repeat(signing.V1(other, now, body)+",", 4) + signing.V1(cur, now, body), 0, false, "too many"},
		{"one bad entry", [][]byte{cur}, signing.V1(cur, now, body) + ",v3=00", 0, false, "unsupported"},
		{"three secrets", [][]byte{cur, prev, other}, signing.V1(cur, now, body), 0, false, "no secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := signing.VerifyAny(tt.secrets, now, ts, tt.sig, "POST", "/v1/purchases", body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("VerifyAny(%q) = %v; want an error with %q", tt.sig, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyAny(%q) = %v; want it verified", tt.sig, err)
			}
			if m.Secret != tt.secret || m.Bound != tt.bound {
				t.Errorf("VerifyAny(%q) = secret %d, bound %t; want %d, %t", tt.sig, m.Secret, m.Bound, tt.secret, tt.bound)
			}
			if strings.Contains(m.Signature, ",") || strings.ToLower(m.Signature) != m.Signature {
				t.Errorf("matched signature %q is not one canonical signature", m.Signature)
			}
		})
	}
}

// TestV2AllCarriesEach: during an overlap a call carries a v2 signature with each secret, the current one
// first, and a receiver holding either verifies it; signing.Verify, what receivers importing steward call,
// takes the list.
func TestV2AllCarriesEach(t *testing.T) {
	now := time.Now()
	cur, prev := []byte("whsec_current_0123456789"), []byte("whsec_previous_0123456789")
	body := []byte(`{"id":"evt_1"}`)
	sig := signing.V2All([][]byte{cur, prev}, now, "POST", "/hooks?x=1", body)
	parts := strings.Split(sig, ",")
	if len(parts) != 2 || parts[0] != signing.V2(cur, now, "POST", "/hooks?x=1", body) || parts[1] != signing.V2(prev, now, "POST", "/hooks?x=1", body) {
		t.Fatalf("V2All = %q; want the current secret's signature, a comma, the previous one's", sig)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, s := range [][]byte{cur, prev} {
		if bound, err := signing.Verify(s, now, ts, sig, "POST", "/hooks?x=1", body); err != nil || !bound {
			t.Errorf("Verify with %s = %t, %v; want verified, bound", s, bound, err)
		}
	}
	if _, err := signing.Verify([]byte("whsec_another_0123456789"), now, ts, sig, "POST", "/hooks?x=1", body); err == nil {
		t.Error("a third secret verifies an overlap's signatures")
	}
	if one := signing.V2All([][]byte{cur}, now, "POST", "/hooks", body); one != signing.V2(cur, now, "POST", "/hooks", body) {
		t.Errorf("V2All with one secret = %q; want V2's", one)
	}
}
