package activities

import (
	"context"
	"fmt"
	"slices"
	"sort"
)

// ChoosePartnerInput asks for a partner company for a case.
type ChoosePartnerInput struct {
	CaseID  string `json:"case_id"`
	Service string `json:"service"`
	// NeedOnsite requires on-site capability (SOS analysis_onsite).
	NeedOnsite bool `json:"need_onsite"`
	// Exclude lists partners already offered this case (timed out or declined).
	Exclude []string `json:"exclude,omitempty"`
}

// ChoosePartnerResult is the partner chosen; PartnerID is empty when none is available.
type ChoosePartnerResult struct {
	PartnerID   string `json:"partner_id,omitempty"`
	PartnerName string `json:"partner_name,omitempty"`
	Load        int    `json:"load"`
	Capacity    int    `json:"capacity"`
	Candidates  int    `json:"candidates"`
}

// ChoosePartner picks an active partner with the service's skill (and on-site capability when needed) that
// has free capacity and has not been offered the case yet: the least loaded, then the one with most free
// capacity, then by ID, so the choice is reproducible.
func (a *Activities) ChoosePartner(ctx context.Context, in ChoosePartnerInput) (ChoosePartnerResult, error) {
	partners, err := a.Store.ListPartners(ctx)
	if err != nil {
		return ChoosePartnerResult{}, fmt.Errorf("list partners: %w", err)
	}
	loads, err := a.Store.PartnerLoads(ctx)
	if err != nil {
		return ChoosePartnerResult{}, err
	}
	type cand struct {
		id, name       string
		load, capacity int
	}
	var cands []cand
	for _, p := range partners {
		if !p.Active || !slices.Contains(p.Services, in.Service) || (in.NeedOnsite && !p.Onsite) || slices.Contains(in.Exclude, p.ID) {
			continue
		}
		if loads[p.ID] >= p.Capacity {
			continue
		}
		cands = append(cands, cand{p.ID, p.Name, loads[p.ID], p.Capacity})
	}
	if len(cands) == 0 {
		return ChoosePartnerResult{}, nil
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.load != b.load {
			return a.load < b.load
		}
		if fa, fb := a.capacity-a.load, b.capacity-b.load; fa != fb {
			return fa > fb
		}
		return a.id < b.id
	})
	c := cands[0]
	return ChoosePartnerResult{PartnerID: c.id, PartnerName: c.name, Load: c.load, Capacity: c.capacity, Candidates: len(cands)}, nil
}
