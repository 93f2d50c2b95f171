export function ActivityPage() {
  return (
    <main>
      <h1>Activity</h1>
    </main>
  )
}
