using k8s.LeaderElection;

namespace Nexus.Operator.Tests.Support;

/// <summary>A Lease held in memory with the API server's optimistic concurrency: an update succeeds only if nobody
/// wrote since the writer last read.</summary>
public sealed class InMemoryLease
{
    private readonly Lock _lock = new();
    private LeaderElectionRecord? _record;
    private long _version;

    public string? Holder
    {
        get
        {
            lock (_lock)
            {
                return _record?.HolderIdentity;
            }
        }
    }

    public ILock LockFor(string identity) => new LeaseLock(this, identity);

    /// <summary>Another party takes the Lease, as when this replica was partitioned away.</summary>
    public void Steal(string identity)
    {
        lock (_lock)
        {
            _record = new LeaderElectionRecord
            {
                HolderIdentity = identity,
                LeaseDurationSeconds = 60,
                AcquireTime = DateTime.UtcNow,
                RenewTime = DateTime.UtcNow,
            };
            _version++;
        }
    }

    /// <summary>The other party gives the Lease up.</summary>
    public void Release()
    {
        lock (_lock)
        {
            _record!.HolderIdentity = "";
            _version++;
        }
    }

    private static LeaderElectionRecord Copy(LeaderElectionRecord record) => new()
    {
        HolderIdentity = record.HolderIdentity,
        LeaseDurationSeconds = record.LeaseDurationSeconds,
        AcquireTime = record.AcquireTime,
        RenewTime = record.RenewTime,
        LeaderTransitions = record.LeaderTransitions,
    };

    private sealed class LeaseLock(InMemoryLease lease, string identity) : ILock
    {
        private long _readVersion = -1;

        public string Identity => identity;

        public Task<LeaderElectionRecord> GetAsync(CancellationToken cancellationToken = default)
        {
            lock (lease._lock)
            {
                _readVersion = lease._version;
                return Task.FromResult(lease._record is null ? null! : Copy(lease._record));
            }
        }

        public Task<bool> CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default)
        {
            lock (lease._lock)
            {
                if (lease._record is not null)
                {
                    return Task.FromResult(false);
                }

                lease._record = Copy(record);
                _readVersion = ++lease._version;
                return Task.FromResult(true);
            }
        }

        public Task<bool> UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default)
        {
            lock (lease._lock)
            {
                if (lease._version != _readVersion)
                {
                    return Task.FromResult(false);
                }

                lease._record = Copy(record);
                _readVersion = ++lease._version;
                return Task.FromResult(true);
            }
        }

        public string Describe() => "memory/nexus-operator";
    }
}
