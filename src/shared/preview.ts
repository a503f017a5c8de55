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

/** Compiles the built-in agents plus extra patterns into one case-insensitive matcher. */
export function previewMatcher(extraPatterns: readonly string[]): RegExp {
  const escaped = DEFAULT_PREVIEW_AGENTS.map((a) => a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp([...escaped, ...extraPatterns.map((p) => `(?:${p})`)].join('|'), 'i');
}
