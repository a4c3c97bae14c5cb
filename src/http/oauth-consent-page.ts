import type { ConsentOutcome } from '../sync/oauth-consent.ts';

export interface ConsentPage {
  status: number;
  html: string;
}

/**
 * The page the admin's browser lands on after the provider's consent screen: self-contained (no script,
 * no external asset, so nothing fetched can carry the callback URL in a Referer), every interpolated value
 * escaped, and never a token, secret, code or state in it.
 */
export function consentPage(outcome: ConsentOutcome): ConsentPage {
  if (outcome.ok) {
    return {
      status: 200,
      html: render(
        `${outcome.providerName} is connected`,
        [
          `Roster can now read the directory of “${outcome.connection.name}”. It is checking access, then the first full sync starts right away.`,
          'You can close this window.',
        ],
        true,
      ),
    };
  }
  const provider = outcome.providerName ?? 'The provider';
  const name = outcome.connection ? `“${outcome.connection.name}”` : 'the connection';
  const again = `Start again from Roster (authorize ${name}) and finish within 10 minutes.`;
  switch (outcome.failure) {
    case 'invalid_state':
      return failure(400, 'This sign-in link is no longer valid', [
        'It has expired, was already used, or was not issued by Roster. Nothing was changed.',
        'Start the connection again from Roster and finish within 10 minutes.',
      ]);
    case 'declined':
      return failure(400, 'Consent was declined', [
        `${provider} was not connected, because access was declined on the consent screen. Nothing was changed.`,
        `To connect ${name}, start again from Roster and allow access.`,
      ]);
    case 'provider_error':
      return failure(400, `${provider} did not grant access`, [
        `The consent screen answered with the error “${outcome.reason ?? 'unknown'}”. Nothing was changed.`,
        again,
      ]);
    case 'connection_unavailable':
      return failure(409, 'This connection cannot be connected now', [
        `${name} was paused, deleted or changed while consent was being given${outcome.reason ? ` (it is now ${outcome.reason})` : ''}. Nothing was stored.`,
        'Check the connection in Roster, then start again.',
      ]);
    case 'exchange_failed':
      return failure(502, `${provider} did not accept the sign-in`, [
        `Roster could not exchange the consent for a token (${outcome.reason ?? 'token request failed'}). Nothing was stored.`,
        `${again} If it keeps failing, check the OAuth client id and secret of the connection, and that Roster’s callback URL is an authorized redirect URI of that client.`,
      ]);
    case 'no_refresh_token':
      return failure(502, `${provider} gave no refresh token`, [
        `Without one, Roster would lose access within the hour, so nothing was stored. ${provider} leaves it out when it skips the consent screen.`,
        `${again} If this happens again, remove Roster’s access in the account’s third-party app settings, then retry so the consent screen is shown.`,
      ]);
    case 'internal_error':
      return failure(500, 'Something went wrong', [
        'Roster could not complete the connection; nothing was connected. Try again, and see Roster’s log if it keeps failing.',
      ]);
  }
}

function failure(status: number, title: string, paragraphs: string[]): ConsentPage {
  return { status, html: render(title, paragraphs, false) };
}

function render(title: string, paragraphs: string[], ok: boolean): string {
  const accent = ok ? '#1a7f37' : '#b42318';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Roster</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
main{max-width:36rem;margin:12vh auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:8px;border-top:4px solid ${accent}}
h1{font-size:1.35rem;margin:0 0 1rem}
p{margin:.5rem 0}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`).join('\n')}
</main>
</body>
</html>
`;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
