import { Link } from 'react-router';

export function NotFoundPage() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/renders">Go to Renders</Link>.
      </p>
    </>
  );
}
