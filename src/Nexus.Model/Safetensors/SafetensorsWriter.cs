using System.Buffers.Binary;

namespace Nexus.Model.Safetensors;

/// <summary>
/// Streams a safetensors file whose layout is fixed up front. Bytes go to a temporary file next to the target;
/// <see cref="Commit"/> fsyncs and renames it into place, and Dispose without Commit deletes it, so the target path
/// only ever holds a complete file. Tensors must be written in layout order; a tensor may arrive in several chunks.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    private readonly TensorEntry[] _entries;
    private readonly Dictionary<string, int> _indexByName;
    private FileStream? _stream;
    private int _current;
    private long _writtenInCurrent;
    private bool _faulted;
    private bool _committed;

    private SafetensorsWriter(string path, string tempPath, FileStream stream, TensorEntry[] entries)
    {
        Path = path;
        TempPath = tempPath;
        _stream = stream;
        _entries = entries;
        _indexByName = entries.Select((e, i) => (e.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
    }

    public string Path { get; }

    /// <summary>Where the bytes go until Commit.</summary>
    public string TempPath { get; }

    /// <summary>The entries the header describes, in layout order.</summary>
    public IReadOnlyList<TensorEntry> Entries => _entries;

    public static SafetensorsWriter Create(
        string path, IReadOnlyList<TensorSpec> layout, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (header, entries) = SafetensorsHeaderBuilder.Build(layout, metadata);
        var tempPath = AtomicFile.TempPathFor(path);
        var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            return new SafetensorsWriter(path, tempPath, stream, entries);
        }
        catch
        {
            stream.Dispose();
            File.Delete(tempPath);
            throw;
        }
    }

    /// <summary>Writes a whole file in one call; the tensors' bytes must match their specs exactly.</summary>
    public static void Write(
        string path,
        IEnumerable<(TensorSpec Spec, ReadOnlyMemory<byte> Bytes)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var writer = Create(path, list.Select(t => t.Spec).ToList(), metadata);
        foreach (var (spec, bytes) in list)
        {
            writer.WriteTensor(spec.Name, bytes.Span);
        }

        writer.Commit();
    }

    /// <summary>Appends bytes to the named tensor, which must be the current one or the next in layout order.</summary>
    public void WriteTensor(string name, ReadOnlySpan<byte> bytes)
    {
        var stream = ActiveStream();
        if (!_indexByName.TryGetValue(name, out var index))
        {
            throw new ArgumentException($"{Path}: tensor '{name}' is not in the layout.", nameof(name));
        }

        if (index < _current)
        {
            throw new InvalidOperationException($"{Path}: tensor '{name}' was already written; layout order is fixed.");
        }

        // Moving on is only allowed once every tensor before the named one is complete (empty ones count as complete).
        while (_current < index)
        {
            EnsureCurrentComplete($"before writing '{name}'");
            _current++;
            _writtenInCurrent = 0;
        }

        var entry = _entries[index];
        if (bytes.Length > entry.ByteLength - _writtenInCurrent)
        {
            throw new ArgumentException(
                $"{Path}: tensor '{name}' takes {entry.ByteLength} bytes; {_writtenInCurrent} are written and " +
                $"{bytes.Length} more would overrun it.",
                nameof(bytes));
        }

        try
        {
            stream.Write(bytes);
        }
        catch
        {
            _faulted = true;
            throw;
        }

        _writtenInCurrent += bytes.Length;
    }

    /// <summary>Checks every tensor is complete, fsyncs, and atomically renames the file onto the target path.</summary>
    public void Commit()
    {
        var stream = ActiveStream();
        EnsureComplete();
        try
        {
            stream.Flush(flushToDisk: true);
            stream.Dispose();
            _stream = null;
            File.Move(TempPath, Path, overwrite: true);
            _committed = true;
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>Throws unless every tensor has all its bytes, without changing any state.</summary>
    internal void EnsureComplete()
    {
        ActiveStream();
        for (var i = _current; i < _entries.Length; i++)
        {
            var written = i == _current ? _writtenInCurrent : 0;
            if (written != _entries[i].ByteLength)
            {
                throw new InvalidOperationException(
                    $"{Path}: tensor '{_entries[i].Name}' is incomplete at commit: {written} of {_entries[i].ByteLength} bytes written.");
            }
        }
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (!_committed)
        {
            File.Delete(TempPath);
        }
    }

    private FileStream ActiveStream()
    {
        if (_committed)
        {
            throw new InvalidOperationException($"{Path}: the writer is already committed.");
        }

        if (_faulted)
        {
            throw new InvalidOperationException($"{Path}: an earlier write failed; the file cannot be completed.");
        }

        return _stream ?? throw new ObjectDisposedException(nameof(SafetensorsWriter));
    }

    private void EnsureCurrentComplete(string when)
    {
        var entry = _entries[_current];
        if (_writtenInCurrent != entry.ByteLength)
        {
            throw new InvalidOperationException(
                $"{Path}: tensor '{entry.Name}' is incomplete {when}: {_writtenInCurrent} of {entry.ByteLength} bytes written.");
        }
    }
}
