package db

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretKeyEnv names the environment variable that holds the key sealing secrets at rest (a customer's
// or a partner's DingTalk robot secret): 32 bytes, Base64-encoded (`openssl rand -base64 32`). Without
// it, secrets are stored as given, in the database only: never in a workflow's history, a log, a search
// attribute or a view.
const SecretKeyEnv = "STEWARD_SECRET_KEY"

// Prefixes of a stored secret: sealed with AES-256-GCM under the secret key, or kept as given.
const (
	sealedPrefix = "sealed:v1:"
	plainPrefix  = "plain:"
)

// ErrSecretKey is returned when a sealed secret cannot be opened: no key, or the wrong one.
var ErrSecretKey = errors.New("secret key missing or wrong (" + SecretKeyEnv + ")")

// SetSecretKey makes the store seal the secrets it writes from now on with key, a Base64 encoding of 32
// bytes; an empty key stores them as given. Secrets stored earlier, sealed or not, stay readable.
func (s *Store) SetSecretKey(key string) error {
	if key == "" {
		s.aead = nil
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
	if err != nil || len(raw) != 32 {
		return fmt.Errorf("%s must be 32 bytes in Base64 (openssl rand -base64 32): %w", SecretKeyEnv, ErrInvalid)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", SecretKeyEnv, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("%s: %w", SecretKeyEnv, err)
	}
	s.aead = aead
	return nil
}

// SealSecret returns secret as the store keeps it: sealed when a secret key is set. An empty secret
// stays empty.
func (s *Store) SealSecret(secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	if s.aead == nil {
		return plainPrefix + secret, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(secret), nil)), nil
}

// OpenSecret returns the secret a stored value holds; ErrSecretKey when it is sealed and the key is
// missing or another.
func (s *Store) OpenSecret(stored string) (string, error) {
	switch {
	case stored == "":
		return "", nil
	case strings.HasPrefix(stored, plainPrefix):
		return strings.TrimPrefix(stored, plainPrefix), nil
	case strings.HasPrefix(stored, sealedPrefix):
		if s.aead == nil {
			return "", ErrSecretKey
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
		n := s.aead.NonceSize()
		if err != nil || len(raw) < n {
			return "", fmt.Errorf("open secret: malformed: %w", ErrInvalid)
		}
		plain, err := s.aead.Open(nil, raw[:n], raw[n:], nil)
		if err != nil {
			return "", ErrSecretKey
		}
		return string(plain), nil
	default:
		return "", fmt.Errorf("open secret: unknown form: %w", ErrInvalid)
	}
}
