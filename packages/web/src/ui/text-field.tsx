import type { ComponentChildren } from 'preact'

/** A labelled text or number input bound to a string value. */
export function TextField(props: {
  label: string
  value: string
  onValue: (v: string) => void
  type?: 'text' | 'number'
  attrs?: Record<string, string | number | boolean>
}) {
  const attrs: Record<string, string | number | boolean> = { type: props.type ?? 'text', ...props.attrs }
  return (
    <label>
      {props.label}
      <input
        {...attrs}
        value={props.value}
        onInput={(e) => props.onValue((e.target as HTMLInputElement).value)}
      />
    </label>
  )
}

/** A form in one row, named for assistive tech, that calls `onSubmit` instead of navigating. */
export function RowForm(props: { name: string; onSubmit: () => void; children: ComponentChildren }) {
  return (
    <form
      class="form-row"
      aria-label={props.name}
      onSubmit={(e) => {
        e.preventDefault()
        props.onSubmit()
      }}
    >
      {props.children}
    </form>
  )
}
