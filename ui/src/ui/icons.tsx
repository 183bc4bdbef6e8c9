/** Small inline icons (stroke paths, 24x24 viewBox); decorative, hidden from screen readers. */
import type { JSX } from "preact";

function Icon({ d, size = 18 }: { d: string; size?: number }): JSX.Element {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <path d={d} />
    </svg>
  );
}

export const PlusIcon = () => <Icon d="M12 5v14M5 12h14" />;
export const SendIcon = () => <Icon d="M5 12h13M13 6l6 6-6 6" />;
export const StopIcon = () => <Icon d="M7 7h10v10H7z" />;
export const MenuIcon = () => <Icon d="M4 6h16M4 12h16M4 18h16" />;
export const CloseIcon = () => <Icon d="M6 6l12 12M18 6L6 18" />;
export const EditIcon = () => <Icon size={16} d="M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4" />;
export const TrashIcon = () => (
  <Icon size={16} d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3" />
);
export const ThumbUpIcon = () => (
  <Icon size={16} d="M7 11v9H4v-9h3zm0 0l4-8c1.7 0 3 1.3 3 3v3h5l-2 11H7" />
);
export const ThumbDownIcon = () => (
  <Icon size={16} d="M17 13V4h3v9h-3zm0 0l-4 8c-1.7 0-3-1.3-3-3v-3H5l2-11h10" />
);
export const SearchIcon = () => <Icon size={16} d="M11 18a7 7 0 100-14 7 7 0 000 14zM21 21l-5-5" />;
export const RetryIcon = () => <Icon size={16} d="M4 4v6h6M20 20v-6h-6M5 15a8 8 0 0013.5 3M19 9A8 8 0 005.5 6" />;
export const ExternalIcon = () => <Icon size={14} d="M14 4h6v6M20 4l-9 9M18 14v6H4V6h6" />;
export const CopyIcon = () => <Icon size={16} d="M9 9h11v11H9zM5 15H4V4h11v1" />;
export const PaperclipIcon = () => (
  <Icon d="M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.5 3.5 0 015 5l-8.5 8.5a2 2 0 01-3-3L15 7" />
);
export const FileIcon = () => <Icon size={16} d="M14 3H6v18h12V7l-4-4zM14 3v4h4" />;
export const BooksIcon = () => <Icon size={16} d="M4 4h4v16H4zM10 4h4v16h-4zM16 5l3.5-1 3 15.5-3.5 1z" />;
