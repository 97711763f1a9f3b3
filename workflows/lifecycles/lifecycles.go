// Package lifecycles lists the case lifecycles steward runs, by service: the worker registers their
// workflows and the API starts and steers cases with them. It is the one package that knows every
// lifecycle; the lifecycles themselves know only the kernel.
package lifecycles

import (
	"fmt"

	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/butler"
	"github.com/steward-oss/steward/workflows/dengbao"
	"github.com/steward-oss/steward/workflows/engagement"
	"github.com/steward-oss/steward/workflows/escort"
	"github.com/steward-oss/steward/workflows/hosting"
	"github.com/steward-oss/steward/workflows/sos"
)

// ByService maps each service of the catalogue to its lifecycle; the five per-engagement services share one.
var ByService = map[string]workflows.Lifecycle{
	workflows.ServiceSOS:        sos.Lifecycle,
	workflows.ServiceDengbao:    dengbao.Lifecycle,
	workflows.ServiceButler:     butler.Lifecycle,
	workflows.ServiceHosting:    hosting.Lifecycle,
	workflows.ServiceEscort:     escort.Lifecycle,
	workflows.ServiceConsulting: engagement.Lifecycle,
	workflows.ServiceTraining:   engagement.Lifecycle,
	workflows.ServiceAssessment: engagement.Lifecycle,
	workflows.ServiceCodeAudit:  engagement.Lifecycle,
	workflows.ServiceOnboarding: engagement.Lifecycle,
}

// Registrations lists every workflow of every lifecycle once, with the type name it is registered by.
func Registrations() []workflows.Registration {
	var out []workflows.Registration
	seen := map[string]bool{}
	for _, lc := range []workflows.Lifecycle{sos.Lifecycle, dengbao.Lifecycle, butler.Lifecycle, hosting.Lifecycle, escort.Lifecycle, engagement.Lifecycle} {
		for _, r := range lc.Workflows {
			if !seen[r.Name] {
				seen[r.Name] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// Validate checks an order for its service's lifecycle.
func Validate(in workflows.CaseInput) error {
	lc, ok := ByService[in.Service]
	if !ok {
		return workflows.ValidateCaseInput(in) // names the unknown service
	}
	if err := lc.Validate(in); err != nil {
		return err
	}
	return nil
}

// Get returns the lifecycle of service.
func Get(service string) (workflows.Lifecycle, error) {
	lc, ok := ByService[service]
	if !ok {
		return workflows.Lifecycle{}, fmt.Errorf("no lifecycle for service %q", service)
	}
	return lc, nil
}
