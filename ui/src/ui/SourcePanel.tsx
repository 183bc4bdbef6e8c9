/** The passage behind a citation: file, locator (page, slide, sheet range...), heading, and
 * the text with the question's words marked. */
import type { JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { Controller, PanelState } from "../controller";
import { highlight } from "../highlight";
import { CloseIcon, ExternalIcon } from "./icons";

export function SourcePanel({ panel, controller }: { panel: PanelState; controller: Controller }) {
  const close = useRef<HTMLButtonElement>(null);
  const opener = useRef<Element | null>(null);

  useEffect(() => {
    opener.current = document.activeElement;
    close.current?.focus();
    return () => {
      const el = opener.current as HTMLElement | null;
      if (el?.isConnected) el.focus();
    };
  }, []);

  const text = panel.chunk?.text ?? null;
  return (
    <aside
      class="source-panel"
      data-testid="source-panel"
      aria-labelledby="source-panel-title"
      role="complementary"
    >
      <header class="panel-header">
        <div class="panel-heading">
          <p class="panel-kicker">{panel.n !== null ? `Source ${panel.n}` : "Search hit"}</p>
          <h2 id="source-panel-title" class="panel-title" data-testid="source-file">
            {panel.source}
          </h2>
        </div>
        <button
          ref={close}
          type="button"
          class="icon-button"
          aria-label="Close source"
          title="Close (Esc)"
          onClick={() => controller.closePanel()}
        >
          <CloseIcon />
        </button>
      </header>
      <dl class="panel-meta">
        {panel.locator && (
          <>
            <dt>Location</dt>
            <dd data-testid="source-locator">{panel.locator.label}</dd>
          </>
        )}
        {panel.heading && (
          <>
            <dt>Section</dt>
            <dd data-testid="source-heading">{panel.heading}</dd>
          </>
        )}
      </dl>
      <div class="passage" data-testid="source-passage" aria-busy={panel.loading}>
        {panel.loading && (
          <>
            {panel.snippet && <Marked text={panel.snippet} terms={panel.terms} />}
            <p class="muted small">Loading the passage…</p>
          </>
        )}
        {panel.error && (
          <p class="error-text" role="alert">
            Could not load the passage: {panel.error}
          </p>
        )}
        {text !== null && <Marked text={text} terms={panel.terms} />}
      </div>
      {panel.href && (
        <a
          class="button open-original"
          data-testid="open-original"
          href={panel.href}
          target="_blank"
          rel="noopener noreferrer"
        >
          Open original <ExternalIcon />
        </a>
      )}
    </aside>
  );
}

function Marked({ text, terms }: { text: string; terms: string[] }): JSX.Element {
  return (
    <p class="passage-text">
      {highlight(text, terms).map((segment, i) =>
        segment.mark ? <mark key={i}>{segment.text}</mark> : segment.text,
      )}
    </p>
  );
}
