// Link-preview protection: chat and mail apps fetch a pasted URL to render a preview,
// which would burn a one-time link before its recipient ever clicks it.

/**
 * User agents of well-known link unfurlers (case-insensitive). Agents that fetch with
 * a browser's user agent (some mail security scanners) cannot be told apart here.
 */
export const DEFAULT_PREVIEW_AGENTS: readonly string[] = [
  // Chat and social unfurlers.
  'Slackbot', 'Slack-ImgProxy', 'facebookexternalhit', 'Facebot', 'Twitterbot', 'LinkedInBot',
  'WhatsApp', 'TelegramBot', 'Discordbot', 'SkypeUriPreview', 'MicrosoftPreview', 'Mattermost-Bot',
  'Snap URL Preview', 'Viber', 'redditbot', 'Pinterestbot', 'vkShare', 'Mastodon', 'Iframely', 'Embedly',
  'bitlybot',
  // Office apps probe a link before opening the browser; search engines' renderers.
  'Microsoft Office', 'ms-office', 'BingPreview', 'Google-PageRenderer', 'Googlebot', 'Applebot', 'bingbot',
  'Yahoo! Slurp', 'Bytespider',
];

/**
 * How much of a user agent the matcher reads. Real agents are far shorter; a viewer can
 * send ~20 KB, and a careless pattern must not run over all of it on every request.
 */
export const PREVIEW_PROBE_CHARS = 512;

/** The part of a user agent that preview patterns are matched against. */
export function previewProbe(userAgent: string): string {
  return userAgent.slice(0, PREVIEW_PROBE_CHARS);
}

/**
 * Why an extra preview pattern cannot be used, or undefined when it can: it must compile
 * (case-insensitive) and must not match the empty string, which would refuse every download.
 */
export function previewPatternProblem(pattern: string): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch (err) {
    return (err as Error).message;
  }
  return re.test('') ? 'it matches the empty string, so it would refuse every download' : undefined;
}

/**
 * Compiles the built-in agents (unless `builtIn: false`) plus extra patterns into one
 * case-insensitive matcher. Throws for a pattern {@link previewPatternProblem} refuses.
 */
export function previewMatcher(extraPatterns: readonly string[], opts: { builtIn?: boolean } = {}): RegExp {
  for (const pattern of extraPatterns) {
    const problem = previewPatternProblem(pattern);
    if (problem) throw new Error(`preview agent pattern ${JSON.stringify(pattern)}: ${problem}`);
  }
  const escaped = opts.builtIn === false ? [] : DEFAULT_PREVIEW_AGENTS.map((a) => a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  const alternatives = [...escaped, ...extraPatterns.map((p) => `(?:${p})`)];
  // An empty alternation would match everything; with nothing to match, match nothing.
  return new RegExp(alternatives.length > 0 ? alternatives.join('|') : '(?!)', 'i');
}
