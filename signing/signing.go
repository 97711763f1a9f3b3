// Package signing is steward's HMAC-SHA256 request signature, one scheme for both directions: the
// marketplace signs its calls to the API with it, and steward signs the event webhooks it sends.
//
// The X-Steward-Timestamp header carries unix seconds; X-Steward-Signature carries "v1=" + hex of the MAC
// over timestamp + "." + body, or "v2=" + hex of the MAC over timestamp + "." + METHOD + " " + path + "." +
// body. v2 binds the signature to the call, so it cannot be replayed on another.
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

func mac(secret []byte, prefix string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(prefix))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a timestamp header and a v1 or v2 signature against the call, at now. It reports whether
// the signature was v2 (bound to method and path).
func Verify(secret []byte, now time.Time, tsHeader, sigHeader, method, path string, body []byte) (bound bool, err error) {
	if tsHeader == "" || sigHeader == "" {
		return false, errors.New("missing " + HeaderTimestamp + " or " + HeaderSignature)
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return false, errors.New(HeaderTimestamp + " must be unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Window || d < -Window {
		return false, errors.New("timestamp outside the allowed window of 300 seconds")
	}
	version, got, ok := strings.Cut(sigHeader, "=")
	if !ok || (version != "v1" && version != "v2") {
		return false, errors.New("unsupported signature version; use v1= or v2=")
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return false, errors.New("signature is not hex")
	}
	prefix := tsHeader + "."
	if version == "v2" {
		prefix += method + " " + path + "."
	}
	if !hmac.Equal(gotMAC, mac(secret, prefix, body)) {
		return false, errors.New("signature does not match")
	}
	return version == "v2", nil
}
