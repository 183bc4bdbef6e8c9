/** Finds the words of a question in a passage, so the panel can mark them. */

const STOPWORDS = new Set(
  (
    "a an and are as at be but by can could did do does for from had has have how i if in " +
    "into is it its me my not of on or our should so than that the their them then there " +
    "these they this those to was we were what when where which who whom why will with " +
    "would you your about after all also any been before being between both each few more " +
    "most other over same some such only own very just too under until up down out off again"
  ).split(" "),
);

const WORD = /[\p{L}\p{N}][\p{L}\p{N}_'’-]*/gu;

/** Distinct lower-case content words of a question (stopwords and 1-letter words dropped). */
export function queryTerms(question: string): string[] {
  const terms = new Set<string>();
  for (const match of question.toLowerCase().matchAll(WORD)) {
    const word = match[0].replace(/['’]s$/, "");
    if (word.length < 2 || STOPWORDS.has(word)) continue;
    terms.add(word);
  }
  return [...terms];
}

function stem(word: string): string {
  return word.length > 4 ? word.replace(/(?:ing|ed|es|s)$/, "") : word;
}

export interface Segment {
  text: string;
  mark: boolean;
}

/** Splits text into runs, marking words that match a term (same stem, or a longer form). */
export function highlight(text: string, terms: string[]): Segment[] {
  if (!terms.length || !text) return text ? [{ text, mark: false }] : [];
  const exact = new Set(terms);
  const stems = new Set(terms.map(stem).filter((s) => s.length >= 4));
  const prefixes = terms.filter((t) => t.length >= 5);
  const segments: Segment[] = [];
  let last = 0;
  const push = (part: string, mark: boolean) => {
    if (!part) return;
    const prev = segments[segments.length - 1];
    if (prev && prev.mark === mark && !mark) prev.text += part;
    else segments.push({ text: part, mark });
  };
  for (const match of text.matchAll(WORD)) {
    const word = match[0].toLowerCase().replace(/['’]s$/, "");
    const hit =
      exact.has(word) ||
      (word.length >= 4 && stems.has(stem(word))) ||
      prefixes.some((p) => word.startsWith(p));
    if (!hit) continue;
    const start = match.index ?? 0;
    push(text.slice(last, start), false);
    push(match[0], true);
    last = start + match[0].length;
  }
  push(text.slice(last), false);
  return segments;
}
