import { Link } from 'react-router';
import { Empty } from '../components/ui';

export default function NotFound() {
  return (
    <Empty title="Page not found" action={<Link className="text-sm font-medium text-indigo-600" to="/dashboard">Go to the dashboard</Link>}>
      There is nothing at this address.
    </Empty>
  );
}
