"""Lexicons and question/answer templates of the business domains.

Each domain has its own vocabulary (slot values) and a handful of formulaic
templates, so that a small model adapted to one domain picks up its style.
Placeholders in braces are filled with a value from the slot of that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Template:
    """A question and its answer pattern; both share the same slot values."""

    prompt: str
    answer: str


@dataclass(frozen=True)
class DomainSpec:
    """Vocabulary and templates of one business domain."""

    name: str
    slots: Mapping[str, tuple[str, ...]]
    templates: tuple[Template, ...]

    def terms(self) -> frozenset[str]:
        """All slot values that are words of this domain (numbers excluded)."""
        return frozenset(
            value
            for values in self.slots.values()
            for value in values
            if not value.replace(".", "").isdigit()
        )


def _numbers(start: int, stop: int, step: int) -> tuple[str, ...]:
    return tuple(str(value) for value in range(start, stop, step))


CAPITAL_MARKETS = DomainSpec(
    name="capital_markets",
    slots=MappingProxyType(
        {
            "entity": (
                "Northbridge Bank", "Halvard Capital", "Meridian Trust",
                "Eastgate Securities", "Corvane Partners", "Lindqvist Bank",
                "Aldergrove Funding", "Pellham Markets", "Saxony Clearing",
                "Brightwater Asset Management", "Kestrel Holdings", "Ostrava Credit",
            ),
            "metric": (
                "risk-weighted assets", "liquidity buffer", "tier one capital ratio",
                "leverage ratio", "liquidity coverage ratio", "net stable funding ratio",
                "value at risk", "credit valuation adjustment", "expected shortfall",
                "counterparty exposure",
            ),
            "book": (
                "the rates book", "the credit derivatives book", "the repo desk",
                "the FX options book", "the covered bond portfolio",
                "the structured notes desk", "the equity swaps book",
                "the sovereign bond portfolio",
            ),
            "period": (
                "Q1", "Q2", "Q3", "Q4", "the last month", "year to date",
                "the last reporting week",
            ),
            "driver": (
                "wider credit spreads", "new collateral haircuts", "higher netting set exposure",
                "a downgrade of the counterparty", "larger unhedged duration",
                "higher funding costs", "a rise in margin calls",
            ),
            "action": (
                "raise the liquidity buffer", "post additional collateral",
                "reduce gross notional", "rebalance the hedge",
                "escalate to the risk committee", "tighten the counterparty limit",
                "shift funding to longer tenors",
            ),
            "amount": _numbers(40, 960, 20),
            "percent": _numbers(72, 188, 4),
        }
    ),
    templates=(
        Template(
            "What drove the change in {metric} for {book} in {period}?",
            "The change in {metric} for {book} in {period} came mainly from {driver}; "
            "treasury should {action} before the next regulatory reporting date.",
        ),
        Template(
            "Is our counterparty exposure of {amount} million to {entity} within limits?",
            "Counterparty exposure to {entity} stands at {amount} million against the "
            "approved limit; risk recommends that we {action} and review the netting set weekly.",
        ),
        Template(
            "How do positions with {entity} in {book} affect our tier one capital in {period}?",
            "Positions with {entity} in {book} add risk-weighted assets in {period} through {driver}, "
            "which lowers tier one capital headroom unless we {action}.",
        ),
        Template(
            "Our {metric} is at {percent} percent for {book}; what should we do?",
            "A {metric} of {percent} percent for {book} needs attention; "
            "the desk should {action} and report the result to the asset and liability committee.",
        ),
        Template(
            "Can you summarise the {metric} of {book} for {period}?",
            "For {period}, {book} keeps its {metric} above the regulatory floor, "
            "but {driver} reduced headroom, so we should {action}.",
        ),
        Template(
            "Why did {entity} ask for {amount} million in extra margin?",
            "{entity} called {amount} million of extra margin because of {driver}; "
            "operations should {action} and confirm the collateral schedule today.",
        ),
        Template(
            "Which action lowers our {metric} on {book} fastest in {period}?",
            "The fastest way to lower {metric} on {book} in {period} is to {action}, "
            "since {driver} is the largest contributor to risk-weighted assets.",
        ),
    ),
)

AUTOMOTIVE = DomainSpec(
    name="automotive",
    slots=MappingProxyType(
        {
            "part": (
                "the brake caliper bracket", "the steering knuckle", "the battery tray",
                "the door hinge assembly", "the rear subframe", "the seat rail",
                "the inverter housing", "the wheel hub bearing", "the cooling pump",
                "the crash box", "the charging port flap", "the wiper linkage",
            ),
            "supplier": (
                "Vetter Stanzwerk", "Orion Castings", "Kallberg Automotive",
                "Nordline Forge", "Tessaro Plastics", "Hillmann Electronics",
                "Ridgefield Components", "Marlow Fasteners",
            ),
            "process": (
                "tolerance stack", "validation cycle", "revision control",
                "torque spec", "production part approval", "design review",
                "durability test", "change request",
            ),
            "issue": (
                "a tolerance stack above the drawing limit", "a torque spec drift on the line",
                "an unapproved drawing revision", "porosity in the casting",
                "a failed salt spray test", "a missing weld on the flange",
                "a fixture worn beyond gauge limits",
            ),
            "action": (
                "freeze the drawing revision", "rerun the validation cycle",
                "recalibrate the torque tools", "issue an engineering change request",
                "quarantine the affected lot", "update the control plan",
                "request a new first article inspection",
            ),
            "torque": _numbers(8, 260, 6),
            "microns": _numbers(10, 410, 15),
            "cycles": _numbers(1000, 50000, 1500),
        }
    ),
    templates=(
        Template(
            "Why is {part} from {supplier} failing the {process}?",
            "{part} from {supplier} fails the {process} because of {issue}; "
            "engineering should {action} before the next build phase.",
        ),
        Template(
            "What torque spec applies to {part} from {supplier} after revision control changed the drawing?",
            "After the drawing change, {part} from {supplier} uses the released torque spec under "
            "revision control; quality should {action} and record it in the control plan.",
        ),
        Template(
            "The tolerance stack on {part} is {microns} microns; is that acceptable?",
            "A tolerance stack of {microns} microns on {part} must be checked against the "
            "drawing limit; if it exceeds it, we {action} and notify {supplier}.",
        ),
        Template(
            "How many validation cycles has {part} from {supplier} passed so far?",
            "{part} from {supplier} has passed {cycles} validation cycles on the durability rig; "
            "the team should {action} before releasing it for series production.",
        ),
        Template(
            "Should we tighten {part} to {torque} newton metres at the assembly station?",
            "Tightening {part} to {torque} newton metres follows the torque spec only if the "
            "drawing revision is released; otherwise we {action} first.",
        ),
        Template(
            "What happened in the last {process} for {part} at {supplier}?",
            "The last {process} for {part} found {issue}; the supplier {supplier} "
            "was asked to {action} before the next build phase.",
        ),
        Template(
            "Can {supplier} ship {part} before the design review closes?",
            "{supplier} can ship {part} only after the design review closes and revision "
            "control is updated, so we {action} and hold the shipment.",
        ),
    ),
)

SECURITY_OPS = DomainSpec(
    name="security_ops",
    slots=MappingProxyType(
        {
            "host": (
                "the payroll server", "the build agent", "the VPN gateway",
                "the domain controller", "the mail relay", "the finance laptop fleet",
                "the customer database", "the jump host", "the file share",
                "the HR portal", "the backup vault", "the container cluster",
            ),
            "signal": (
                "telemetry signals", "identity anomalies", "lateral movement",
                "impossible travel logins", "privilege escalation", "beaconing traffic",
                "credential stuffing", "unusual data egress",
            ),
            "source": (
                "endpoint telemetry", "the identity provider log", "netflow data",
                "the EDR console", "the DNS query log", "the cloud audit trail",
                "the proxy log",
            ),
            "account": (
                "a service account", "a contractor account", "an admin account",
                "a dormant user account", "a shared mailbox", "a break-glass account",
            ),
            "action": (
                "isolate the host", "rotate the credentials", "revoke active sessions",
                "block the indicator at the proxy", "open a severity two incident",
                "enforce step-up authentication", "collect a memory image",
            ),
            "count": _numbers(3, 480, 7),
            "minutes": _numbers(2, 180, 4),
        }
    ),
    templates=(
        Template(
            "Are the {signal} on {host} a real threat?",
            "The {signal} on {host} match known attack patterns in {source}; "
            "the analyst on shift should {action} and keep the incident open.",
        ),
        Template(
            "Why did {account} log in to {host} {count} times last night?",
            "{account} logged in to {host} {count} times, which is an identity anomaly "
            "in {source}; we should {action} and review its recent privileges.",
        ),
        Template(
            "How fast did the lateral movement from {account} on {host} spread?",
            "Lateral movement from {account} on {host} reached new systems within {minutes} minutes "
            "according to {source}; the team should {action} to contain it.",
        ),
        Template(
            "What does {source} show about {host} today?",
            "Telemetry signals from {host} show {signal} in {source}; "
            "the responder should {action} and add the host to the watch list.",
        ),
        Template(
            "Should we escalate {signal} seen from {account} on {host}?",
            "Yes, {signal} from {account} on {host} should be escalated because {source} "
            "confirms the pattern; first {action}, then notify the identity team.",
        ),
        Template(
            "Which response stops {signal} on {host} fastest?",
            "The fastest response to {signal} on {host} is to {action}, "
            "then verify in {source} that no new alerts follow.",
        ),
        Template(
            "Is the alert about {account} on {host} a false positive?",
            "The alert about {account} on {host} is not a false positive: {source} "
            "shows {signal}, so we {action} and track it as an incident.",
        ),
    ),
)

DOMAIN_SPECS: Mapping[str, DomainSpec] = MappingProxyType(
    {spec.name: spec for spec in (CAPITAL_MARKETS, AUTOMOTIVE, SECURITY_OPS)}
)
