// Package signing is steward's HMAC-SHA256 request signature, one scheme for both directions: the
// marketplace signs its calls to the API with it, and steward signs the event webhooks it sends.
//
// The X-Steward-Timestamp header carries unix seconds; X-Steward-Signature carries "v1=" + hex of the MAC
// over timestamp + "." + body, or "v2=" + hex of the MAC over timestamp + "." + METHOD + " " + path + "." +
// body. v2 binds the signature to the call, so it cannot be replayed on another.
//
// While a secret is rotated the header may carry several signatures, comma-separated, one per secret in use
// ("v2=<with the current secret>,v2=<with the previous one>"), as payment platforms sign their webhooks: a
// receiver accepts the call when any of them verifies with the secret it holds, so it can switch to the new
// secret at any moment of the overlap.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderTimestamp = "X-Steward-Timestamp"
	HeaderSignature = "X-Steward-Signature"
)

// Window is how far a signed request's timestamp may be from the receiver's clock.
const Window = 300 * time.Second

// MaxSignatures bounds the signatures one header may carry, and so the MACs a receiver computes for it.
const MaxSignatures = 4

// MaxSecrets bounds the secrets a receiver verifies against: the current one and the previous one.
const MaxSecrets = 2

// V1 is the v1 signature of a body sent at ts.
func V1(secret []byte, ts time.Time, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10)+".", body))
}

// V2 is the v2 signature of a call sent at ts: its method, its path and its body. The API's inbound
// calls sign the request path without the query; webhook deliveries sign the subscriber URL's path with
// its query, as the receiver sees it.
func V2(secret []byte, ts time.Time, method, path string, body []byte) string {
	return "v2=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10)+"."+method+" "+path+".", body))
}

// V2All is the X-Steward-Signature value of a call signed with each of secrets, in order (the current
// secret first): their v2 signatures, comma-separated. With one secret it is V2's.
func V2All(secrets [][]byte, ts time.Time, method, path string, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = V2(s, ts, method, path, body)
	}
	return strings.Join(sigs, ",")
}

func mac(secret []byte, prefix string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(prefix))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a timestamp header and a signature header — one v1 or v2 signature, or several
// comma-separated — against the call, at now. It reports whether the signature that verified was v2
// (bound to method and path).
func Verify(secret []byte, now time.Time, tsHeader, sigHeader, method, path string, body []byte) (bound bool, err error) {
	m, err := VerifyAny([][]byte{secret}, now, tsHeader, sigHeader, method, path, body)
	return m.Bound, err
}

// Match is the signature that verified a call.
type Match struct {
	// Signature is the one that verified, in canonical form: its version, "=", lower-case hex.
	Signature string
	// Bound reports whether it is v2 (bound to method and path).
	Bound bool
	// Secret is the index, in the secrets given, of the secret it verified with: 0 for the current one.
	Secret int
}

// VerifyAny is Verify against each of secrets (the current one first, at most MaxSecrets): the call passes
// when one of the header's signatures (at most MaxSignatures) verifies with one of them. It says which.
// The work is bounded: at most one MAC per version and secret, whatever the header holds.
func VerifyAny(secrets [][]byte, now time.Time, tsHeader, sigHeader, method, path string, body []byte) (Match, error) {
	if len(secrets) == 0 || len(secrets) > MaxSecrets {
		return Match{}, errors.New("no secret to verify with")
	}
	if tsHeader == "" || sigHeader == "" {
		return Match{}, errors.New("missing " + HeaderTimestamp + " or " + HeaderSignature)
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return Match{}, errors.New(HeaderTimestamp + " must be unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Window || d < -Window {
		return Match{}, errors.New("timestamp outside the allowed window of 300 seconds")
	}
	parts := strings.Split(sigHeader, ",")
	if len(parts) > MaxSignatures {
		return Match{}, errors.New("too many signatures; send at most 4")
	}
	type given struct {
		version string
		mac     []byte
	}
	sigs := make([]given, 0, len(parts))
	for _, p := range parts {
		version, got, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || (version != "v1" && version != "v2") {
			return Match{}, errors.New("unsupported signature version; use v1= or v2=")
		}
		gotMAC, err := hex.DecodeString(got)
		if err != nil {
			return Match{}, errors.New("signature is not hex")
		}
		sigs = append(sigs, given{version, gotMAC})
	}
	want := map[string][][]byte{} // version → the MAC with each secret, computed when first needed
	for _, g := range sigs {
		macs, ok := want[g.version]
		if !ok {
			prefix := tsHeader + "."
			if g.version == "v2" {
				prefix += method + " " + path + "."
			}
			for _, s := range secrets {
				macs = append(macs, mac(s, prefix, body))
			}
			want[g.version] = macs
		}
		for i, m := range macs {
			if hmac.Equal(g.mac, m) {
				return Match{Signature: g.version + "=" + hex.EncodeToString(g.mac), Bound: g.version == "v2", Secret: i}, nil
			}
		}
	}
	return Match{}, errors.New("signature does not match")
}
