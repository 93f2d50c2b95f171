export function PlaygroundPage() {
  return (
    <main>
      <h1>Playground</h1>
    </main>
  )
}
