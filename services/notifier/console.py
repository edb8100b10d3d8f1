"""Without an SMTP server (`docflow dev`), e-mails are printed so people can follow the links."""

import re
import sys
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses

from services.notifier.outgoing import Outgoing, Receipt

_LINK = re.compile(r"""https?://[^\s"'<>]+""")
_RULE = "=" * 72


def render(email: EmailMessage, recipients: Sequence[str]) -> str:
    """A readable block: headers people care about, the text body, then every link in the
    e-mail (HTML-only links too, which the text body may not show)."""
    text_part = email.get_body(preferencelist=("plain",))
    text = text_part.get_content() if isinstance(text_part, EmailMessage) else ""
    html_part = email.get_body(preferencelist=("html",))
    html = html_part.get_content() if isinstance(html_part, EmailMessage) else ""
    links = list(dict.fromkeys(_LINK.findall(text) + _LINK.findall(html)))
    lines = [
        _RULE,
        "E-mail (no SMTP server configured: printed, not sent)",
        f"To:         {email['To']}",
    ]
    if email["Cc"]:
        lines.append(f"Cc:         {email['Cc']}")
    shown = {
        address for _, address in getaddresses(email.get_all("To", []) + email.get_all("Cc", []))
    }
    hidden = [r for r in recipients if r not in shown]
    if hidden:
        lines.append(f"Bcc:        {', '.join(hidden)}")
    lines += [
        f"Subject:    {email['Subject']}",
        *(f"Attached:   {part.get_filename()}" for part in email.iter_attachments()),
        f"Message-ID: {email['Message-ID']}",
        "",
        text.rstrip("\n"),
    ]
    if links:
        lines += ["", "Links:", *(f"  {link}" for link in links)]
    lines.append(_RULE)
    return "\n".join(lines)


class ConsoleTransport:
    name = "console"
    delivered_outcome = "printed"

    async def send(self, outgoing: Outgoing) -> Receipt:
        # sys.stdout is looked up on each call, so a redirected stdout is honoured.
        email = outgoing.mime()
        print(render(email, outgoing.recipients), file=sys.stdout, flush=True)
        return Receipt("printed to the console")
