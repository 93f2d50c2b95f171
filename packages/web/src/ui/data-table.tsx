import type { ComponentChildren } from 'preact'

/** A table that scrolls sideways on a narrow screen; an empty column name is an unnamed actions column. */
export function DataTable(props: {
  class?: string
  columns: readonly string[]
  children: ComponentChildren
}) {
  return (
    <div class="table-wrap">
      <table class={props.class}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col">{c === '' ? <span class="sr-only">Actions</span> : c}</th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  )
}
