/**
 * Markdown for answers. Text from documents and models is untrusted: markdown-it runs with raw
 * HTML off (it is shown as text) and its link validation on, and DOMPurify sanitises the
 * result before it reaches the page. Citation markers `[n]` become chips.
 */
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import type { Citation } from "./sources";

type Env = Record<string, unknown> & { citations?: Map<number, Citation>; streaming?: boolean };

const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });

const MARKER = /^\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/;

md.inline.ruler.before("link", "citation", (state, silent) => {
  if (state.src.charCodeAt(state.pos) !== 0x5b /* [ */) return false;
  const match = MARKER.exec(state.src.slice(state.pos, state.pos + 64));
  if (!match) return false;
  if (state.src[state.pos + match[0].length] === "(") return false; // a real link
  if (!silent) {
    const token = state.push("citation", "", 0);
    token.content = match[0];
    token.meta = { numbers: match[1].split(",").map((n) => Number(n.trim())) };
  }
  state.pos += match[0].length;
  return true;
});

md.renderer.rules.citation = (tokens, idx, _options, env?: Env) => {
  const token = tokens[idx];
  const numbers = (token.meta as { numbers: number[] }).numbers;
  const citations = env?.citations ?? new Map<number, Citation>();
  if (!numbers.every((n) => citations.has(n))) {
    // While an answer streams, its citations arrive at the end: hold their place.
    return env?.streaming
      ? numbers.map((n) => `<span class="citation pending" aria-hidden="true">${n}</span>`).join("")
      : md.utils.escapeHtml(token.content);
  }
  // Labelled after sanitising (see labelCitations).
  return numbers
    .map((n) => `<button type="button" class="citation" data-testid="citation" data-n="${n}">${n}</button>`)
    .join("");
};

md.renderer.rules.table_open = () => '<div class="table-wrap"><table>\n';
md.renderer.rules.table_close = () => "</table></div>\n";

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const PURIFY = {
  ADD_ATTR: ["target"],
  // No images or styles from answers: nothing in an answer may load a remote resource.
  FORBID_TAGS: ["img", "style", "svg", "math", "form", "input", "textarea", "select", "video", "audio"],
  FORBID_ATTR: ["style", "srcset"],
};

/** Sanitised HTML for an answer; `[n]` with a known citation becomes a `citation` chip. */
export function renderMarkdown(
  text: string,
  citations?: Map<number, Citation>,
  streaming = false,
): string {
  const env: Env = { citations, streaming };
  const clean = DOMPurify.sanitize(md.render(text, env), { ...PURIFY, RETURN_DOM_FRAGMENT: true });
  labelCitations(clean, citations);
  const holder = document.createElement("div");
  holder.append(clean);
  return holder.innerHTML;
}

/**
 * DOMPurify drops any attribute whose value looks like markup (`</title>`, `-->`, `]>`), so a
 * label in the HTML string would vanish for such a title. Set on the sanitised tree, the
 * label is plain attribute text that is never parsed.
 */
function labelCitations(root: DocumentFragment, citations?: Map<number, Citation>): void {
  for (const chip of root.querySelectorAll<HTMLElement>("button.citation[data-n]")) {
    const citation = citations?.get(Number(chip.dataset.n));
    if (!citation) continue;
    const label = `Source ${chip.dataset.n}: ${citation.title}`;
    chip.setAttribute("aria-label", label);
    chip.setAttribute("title", label);
  }
}
