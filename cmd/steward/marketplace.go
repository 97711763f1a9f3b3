package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/steward-oss/steward/signing"
)

// minMarketplaceSecret is the shortest marketplace secret the API takes.
const minMarketplaceSecret = 16

// marketplaceSecrets is the secret marketplace calls are signed with, or, while it is rotated, the current
// one and the previous one (README: rotating the marketplace secret).
type marketplaceSecrets struct {
	single, list string
}

func (m *marketplaceSecrets) register(f flags) {
	f.str(&m.single, "marketplace-secret", "STEWARD_MARKETPLACE_SECRET", "", "marketplace HMAC secret (this or -marketplace-secrets is required)")
	f.str(&m.list, "marketplace-secrets", "STEWARD_MARKETPLACE_SECRETS", "", "while the marketplace secret is rotated: the current secret and the previous one, "+
		"comma-separated; a call signed with either verifies (takes the place of -marketplace-secret)")
}

// resolve returns the secrets, the current one first. With both settings, the single secret must be one of
// the list: a leftover of the rotation's first step would otherwise be silently ignored.
func (m *marketplaceSecrets) resolve() ([][]byte, error) {
	if m.list == "" {
		if len(m.single) < minMarketplaceSecret {
			return nil, fmt.Errorf("STEWARD_MARKETPLACE_SECRET (or STEWARD_MARKETPLACE_SECRETS) must be set, at least %d characters", minMarketplaceSecret)
		}
		return [][]byte{[]byte(m.single)}, nil
	}
	var list []string
	for _, s := range strings.Split(m.list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	switch {
	case len(list) == 0:
		return nil, errors.New("STEWARD_MARKETPLACE_SECRETS: give the current secret, then the previous one, comma-separated")
	case len(list) > signing.MaxSecrets:
		return nil, fmt.Errorf("STEWARD_MARKETPLACE_SECRETS: at most %d secrets, the current one and the previous one", signing.MaxSecrets)
	case len(list) == 2 && list[0] == list[1]:
		return nil, errors.New("STEWARD_MARKETPLACE_SECRETS: the current and the previous secret are the same")
	}
	for i, s := range list {
		if len(s) < minMarketplaceSecret {
			return nil, fmt.Errorf("STEWARD_MARKETPLACE_SECRETS: secret %d is shorter than %d characters", i+1, minMarketplaceSecret)
		}
	}
	if m.single != "" && !slices.Contains(list, m.single) {
		return nil, errors.New("STEWARD_MARKETPLACE_SECRET is set but is not one of STEWARD_MARKETPLACE_SECRETS: unset it, or list it")
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		out[i] = []byte(s)
	}
	return out, nil
}
