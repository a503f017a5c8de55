// PLACEHOLDER until the upload page lands (replaced by the real module on merge).
import { renderMessagePage } from './landing-page';

export function renderUploadPage(opts: { title: string; maxBytes: number; expiresAt: Date; contentType?: string; notice?: string }):
{ html: string; headers: Record<string, string> } {
  return renderMessagePage({ title: opts.title, message: `Upload at most ${opts.maxBytes} bytes.` });
}
