/** A table's header row from its column names. */
export function TableHead(props: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** "Load more" for a cursor-paged list (shown only while there is a next page). */
export function LoadMore(props: {
  list: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => unknown };
}) {
  if (!props.list.hasNextPage) return null;
  return (
    <button
      type="button"
      onClick={() => void props.list.fetchNextPage()}
      disabled={props.list.isFetchingNextPage}
    >
      Load more
    </button>
  );
}
