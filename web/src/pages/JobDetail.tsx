import { Link, useParams } from 'react-router';
import { JobPanel, useJob } from '../components/JobView';
import { Card } from '../components/ui';

export default function JobDetail() {
  const { id = '' } = useParams();
  const job = useJob(id).data;
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-4 text-sm">
        <Link to="/dashboard" className="text-indigo-600 hover:text-indigo-500">Dashboard</Link>
        <span className="mx-2 text-slate-400">/</span>
        <span className="font-mono text-slate-600">{id.slice(0, 13)}</span>
      </nav>
      <h1 className="mb-4 text-2xl font-semibold tracking-tight text-slate-900">{job ? <>{job.connector} <span className="text-slate-400">/</span> <span className="font-mono">{job.tool}</span></> : 'Job'}</h1>
      <Card className="p-4 sm:p-6">
        <JobPanel id={id} />
      </Card>
    </>
  );
}
