namespace Nexus.Model.Safetensors;

/// <summary>
/// A checkpoint that is either one safetensors file or a directory of shards described by
/// model.safetensors.index.json. Shards are opened (and cross-checked against the index) only when one of their
/// tensors is first asked for, so listing names or loading a subset stays cheap.
/// </summary>
public sealed unsafe class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, string> _shardOfTensor;
    private readonly Dictionary<string, List<string>> _tensorsOfShard;
    private readonly Dictionary<string, SafetensorsFile> _openShards = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly List<string> _names;
    private bool _disposed;

    private SafetensorsCheckpoint(
        string path, bool isSharded, IEnumerable<KeyValuePair<string, string>> shardOfTensor,
        IReadOnlyDictionary<string, string> metadata, long? totalSize)
    {
        Path = path;
        IsSharded = isSharded;
        Metadata = metadata;
        TotalSize = totalSize;
        _names = [];
        _shardOfTensor = new Dictionary<string, string>(StringComparer.Ordinal);
        _tensorsOfShard = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (tensor, shard) in shardOfTensor)
        {
            _names.Add(tensor);
            _shardOfTensor.Add(tensor, shard);
            if (!_tensorsOfShard.TryGetValue(shard, out var list))
            {
                _tensorsOfShard.Add(shard, list = []);
            }

            list.Add(tensor);
        }
    }

    /// <summary>The safetensors file or index file this checkpoint was read from.</summary>
    public string Path { get; }

    public bool IsSharded { get; }

    /// <summary>Full paths of the shard files (one entry for a single-file checkpoint).</summary>
    public IReadOnlyCollection<string> ShardPaths => _tensorsOfShard.Keys;

    /// <summary>Tensor names: data-offset order for a single file, weight_map order for a sharded checkpoint.</summary>
    public IEnumerable<string> Names => _names;

    /// <summary>
    /// The file's __metadata__ for a single file; for a sharded checkpoint the index "metadata" object, with
    /// non-string values (such as total_size) as their JSON text.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Total tensor bytes: the index's total_size when sharded (null if absent), else the data region size.</summary>
    public long? TotalSize { get; }

    public static SafetensorsCheckpoint Open(string pathOrDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrDirectory);
        if (Directory.Exists(pathOrDirectory))
        {
            var index = System.IO.Path.Combine(pathOrDirectory, IndexFileName);
            if (File.Exists(index))
            {
                return OpenIndex(index);
            }

            var single = System.IO.Path.Combine(pathOrDirectory, SingleFileName);
            return File.Exists(single)
                ? OpenSingle(single)
                : throw new FileNotFoundException(
                    $"{pathOrDirectory}: neither {IndexFileName} nor {SingleFileName} exists in the directory", single);
        }

        if (!File.Exists(pathOrDirectory))
        {
            throw new FileNotFoundException($"{pathOrDirectory}: no such checkpoint file or directory", pathOrDirectory);
        }

        return pathOrDirectory.EndsWith(".index.json", StringComparison.Ordinal)
            ? OpenIndex(pathOrDirectory)
            : OpenSingle(pathOrDirectory);
    }

    public bool Contains(string name) => _shardOfTensor.ContainsKey(name);

    public TensorEntry Entry(string name) => FileOf(name)[name];

    /// <summary>The (lazily opened) file holding the tensor, for callers that want to work with it directly.</summary>
    public SafetensorsFile FileOf(string name)
    {
        if (!_shardOfTensor.TryGetValue(name, out var shard))
        {
            throw new KeyNotFoundException($"{Path}: no tensor named {SafetensorsHeaderParser.Quote(name)}");
        }

        return OpenShard(shard);
    }

    public ReadOnlySpan<byte> GetBytes(string name) => FileOf(name).GetBytes(name);

    public void CopyTo(string name, void* destination, long destinationBytes) =>
        FileOf(name).CopyTo(name, destination, destinationBytes);

    public void CopyTo(string name, IntPtr destination, long destinationBytes) =>
        FileOf(name).CopyTo(name, destination, destinationBytes);

    public void CopyTo(string name, Span<byte> destination) => FileOf(name).CopyTo(name, destination);

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var file in _openShards.Values)
            {
                file.Dispose();
            }

            _openShards.Clear();
        }
    }

    private static SafetensorsCheckpoint OpenSingle(string path)
    {
        var file = SafetensorsFile.Open(path);
        var shard = System.IO.Path.GetFullPath(path);
        var checkpoint = new SafetensorsCheckpoint(
            path, isSharded: false, file.Tensors.Select(t => KeyValuePair.Create(t.Name, shard)), file.Metadata, file.DataLength);
        checkpoint._openShards.Add(shard, file);
        return checkpoint;
    }

    private static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        var index = SafetensorsIndex.Load(indexPath);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var resolved = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (tensor, shard) in index.WeightMap)
        {
            if (!resolved.ContainsKey(shard))
            {
                resolved.Add(shard, ResolveShard(directory, shard, indexPath));
            }
        }

        foreach (var (shard, fullPath) in resolved)
        {
            if (!File.Exists(fullPath))
            {
                throw SafetensorsHeaderParser.Fail(indexPath,
                    $"index names shard {SafetensorsHeaderParser.Quote(shard)}, which does not exist (missing shard file {fullPath})");
            }
        }

        return new SafetensorsCheckpoint(
            indexPath, isSharded: true, index.WeightMap.Select(p => KeyValuePair.Create(p.Key, resolved[p.Value])), index.Metadata,
            index.TotalSize);
    }

    /// <summary>Shard names come from an untrusted file; they must name files inside the checkpoint directory.</summary>
    private static string ResolveShard(string directory, string shard, string indexPath)
    {
        var segments = shard.Split('/', '\\');
        if (shard.Length == 0 || shard.Contains('\0') || System.IO.Path.IsPathRooted(shard) || segments.Contains(".."))
        {
            throw SafetensorsHeaderParser.Fail(indexPath,
                $"shard file name {SafetensorsHeaderParser.Quote(shard)} is not a relative path inside the checkpoint directory");
        }

        var fullPath = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, shard));
        var root = System.IO.Path.TrimEndingDirectorySeparator(directory) + System.IO.Path.DirectorySeparatorChar;
        return fullPath.StartsWith(root, StringComparison.Ordinal)
            ? fullPath
            : throw SafetensorsHeaderParser.Fail(indexPath,
                $"shard file name {SafetensorsHeaderParser.Quote(shard)} is not a relative path inside the checkpoint directory");
    }

    private SafetensorsFile OpenShard(string shard)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_openShards.TryGetValue(shard, out var open))
            {
                return open;
            }

            var file = SafetensorsFile.Open(shard);
            try
            {
                foreach (var tensor in _tensorsOfShard[shard])
                {
                    if (!file.Contains(tensor))
                    {
                        throw SafetensorsHeaderParser.Fail(Path,
                            $"index maps tensor {SafetensorsHeaderParser.Quote(tensor)} to shard {shard}, " +
                            "but the shard does not contain it");
                    }
                }
            }
            catch
            {
                file.Dispose();
                throw;
            }

            _openShards.Add(shard, file);
            return file;
        }
    }
}
