package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/aimx-dev/aimx/operations"
)

// DomainRow is one domain in GET /v1/domains.
type DomainRow = operations.DomainRow

// DomainList is the body of GET /v1/domains.
type DomainList struct {
	Domains []DomainRow `json:"domains"`
}

// NewDomain is the body of POST /v1/domains.
type NewDomain struct {
	Domain        string `json:"domain"`
	Selector      string `json:"dkim_selector,omitempty"`
	CatchallOwner string `json:"catchall_owner,omitempty"`
}

// DomainAdded answers POST /v1/domains.
type DomainAdded = operations.DomainAdded

// DomainRemoved answers DELETE /v1/domains/{domain}.
type DomainRemoved = operations.DomainRemoved

// ListDomains lists the served domains, the default first.
func (a *Admin) ListDomains(ctx context.Context) (DomainList, error) {
	if a.Domains == nil {
		return DomainList{}, apiErr(CodeInternal, "domains cannot be managed here")
	}
	rows, err := a.Domains.List(ctx)
	if err != nil {
		return DomainList{}, err
	}
	return DomainList{Domains: rows}, nil
}

// AddDomain serves a new domain (book/multi-domain.md).
func (a *Admin) AddDomain(ctx context.Context, req NewDomain) (DomainAdded, error) {
	if a.Domains == nil {
		return DomainAdded{}, apiErr(CodeInternal, "domains cannot be managed here")
	}
	res, err := a.Domains.Add(ctx, operations.AddDomain{Domain: req.Domain, Selector: req.Selector, CatchallOwner: req.CatchallOwner})
	switch {
	case errors.Is(err, operations.ErrInvalidDomain):
		return DomainAdded{}, apiErr(CodeValidation, "%s", strings.TrimPrefix(err.Error(), "add domain "))
	case errors.Is(err, operations.ErrDomainExists):
		return DomainAdded{}, apiErr(CodeConflict, "%s is already served; aimx domains list shows every domain", strings.ToLower(req.Domain))
	case errors.Is(err, operations.ErrUnknownOwner):
		// The domain is live; only its catchall is missing.
		e := apiErr(CodeValidation, "%v; create it with aimx mailboxes create '*@%s' --owner USER", err, res.Domain)
		return *res, e
	case err != nil:
		if res != nil {
			return *res, err
		}
		return DomainAdded{}, err
	}
	return *res, nil
}

// RemoveDomain stops serving a domain; force cascades (book/multi-domain.md).
func (a *Admin) RemoveDomain(ctx context.Context, domain string, force bool) (DomainRemoved, error) {
	if a.Domains == nil {
		return DomainRemoved{}, apiErr(CodeInternal, "domains cannot be managed here")
	}
	res, err := a.Domains.Remove(ctx, domain, force)
	var ne *operations.DomainNotEmptyError
	var de *operations.DefaultDomainError
	switch {
	case errors.As(err, &ne):
		e := apiErr(CodeNonEmpty, "domain %s still has %d mailboxes (%s); delete them first, or pass force to delete them and all their mail",
			ne.Domain, len(ne.Mailboxes), strings.Join(ne.Mailboxes, ", "))
		e.Mailboxes = ne.Mailboxes
		return DomainRemoved{}, e
	case errors.As(err, &de):
		return DomainRemoved{}, apiErr(CodeConflict, "%s is the default domain; removing it makes %s the default (bare names then mean %s). Pass force to do it",
			de.Domain, de.NextDefault, de.NextDefault)
	case errors.Is(err, operations.ErrLastDomain):
		return DomainRemoved{}, apiErr(CodeConflict, "%s is the only domain; aimx needs at least one. To stop serving mail altogether, uninstall aimx instead",
			strings.ToLower(domain))
	case errors.Is(err, operations.ErrDomainNotServed):
		return DomainRemoved{}, apiErr(CodeNotFound, "%s is not one of the served domains; aimx domains list shows them", strings.ToLower(domain))
	case err != nil:
		return DomainRemoved{}, err
	}
	return *res, nil
}
