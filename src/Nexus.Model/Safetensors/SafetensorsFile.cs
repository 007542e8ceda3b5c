using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace Nexus.Model.Safetensors;

/// <summary>
/// A read-only, memory-mapped safetensors file. The header is parsed and fully validated on open; tensor bytes are
/// only touched when asked for, so opening a multi-GB file costs one mapping and the header.
/// Spans returned by <see cref="GetBytes(string)"/> point into the mapping and must not be used after Dispose.
/// Reads are safe from several threads; Dispose must not race with them. The file must not be truncated while open:
/// like any mapping, touching pages past the new end would fault the process.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private const int LengthPrefixBytes = 8;

    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, TensorEntry> _byName;
    private byte* _data;

    private SafetensorsFile(
        string path, MemoryMappedFile mapping, MemoryMappedViewAccessor view, byte* data, long dataOffset,
        long dataLength, SafetensorsHeader header)
    {
        Path = path;
        _mapping = mapping;
        _view = view;
        _data = data;
        DataOffset = dataOffset;
        DataLength = dataLength;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }

    /// <summary>Tensors in data-offset order.</summary>
    public IReadOnlyList<TensorEntry> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Absolute file offset of the data region (8 + header length).</summary>
    public long DataOffset { get; }

    public long DataLength { get; }

    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        var pointerAcquired = false;
        try
        {
            var fileLength = stream.Length;
            var headerLength = ReadHeaderLength(stream, fileLength, path);

            // The checks above guarantee a non-empty file, which CreateFromFile requires.
            mapping = MemoryMappedFile.CreateFromFile(
                stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            pointerAcquired = true;
            start += view.PointerOffset;

            var dataOffset = LengthPrefixBytes + headerLength;
            var dataLength = fileLength - dataOffset;
            var headerBytes = new ReadOnlySpan<byte>(start + LengthPrefixBytes, checked((int)headerLength));
            var header = SafetensorsHeaderParser.Parse(headerBytes, dataLength, path);
            return new SafetensorsFile(path, mapping, view, start + dataOffset, dataOffset, dataLength, header);
        }
        catch
        {
            if (pointerAcquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            if (mapping is null)
            {
                stream.Dispose();
            }
            else
            {
                mapping.Dispose();
            }

            throw;
        }
    }

    public bool TryGet(string name, out TensorEntry entry) => _byName.TryGetValue(name, out entry!);

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorEntry this[string name] =>
        _byName.TryGetValue(name, out var entry)
            ? entry
            : throw new KeyNotFoundException($"{Path}: no tensor named {SafetensorsHeaderParser.Quote(name)}");

    /// <summary>The tensor's bytes in place (little-endian, row-major). Use CopyTo for tensors of 2 GiB or more.</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(this[name]);

    public ReadOnlySpan<byte> GetBytes(TensorEntry entry)
    {
        var source = Locate(entry);
        if (entry.ByteLength > int.MaxValue)
        {
            throw new InvalidOperationException(
                $"{Path}: tensor {SafetensorsHeaderParser.Quote(entry.Name)} is {entry.ByteLength} bytes, " +
                "too large for a span; use CopyTo");
        }

        return new ReadOnlySpan<byte>(source, (int)entry.ByteLength);
    }

    /// <summary>Copies the tensor's bytes to native memory; works for tensors of any size.</summary>
    public void CopyTo(string name, void* destination, long destinationBytes) =>
        CopyTo(this[name], destination, destinationBytes);

    public void CopyTo(string name, IntPtr destination, long destinationBytes) =>
        CopyTo(this[name], (void*)destination, destinationBytes);

    public void CopyTo(string name, Span<byte> destination)
    {
        fixed (byte* target = destination)
        {
            CopyTo(this[name], target, destination.Length);
        }
    }

    public void CopyTo(TensorEntry entry, void* destination, long destinationBytes)
    {
        var source = Locate(entry);
        if (destinationBytes < entry.ByteLength)
        {
            throw new ArgumentException(
                $"{Path}: tensor {SafetensorsHeaderParser.Quote(entry.Name)} is {entry.ByteLength} bytes but the " +
                $"destination holds only {destinationBytes}",
                nameof(destinationBytes));
        }

        if (entry.ByteLength > 0)
        {
            if (destination is null)
            {
                throw new ArgumentNullException(nameof(destination));
            }

            Buffer.MemoryCopy(source, destination, destinationBytes, entry.ByteLength);
        }
    }

    public void Dispose()
    {
        if (_data is null)
        {
            return;
        }

        _data = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
    }

    private byte* Locate(TensorEntry entry)
    {
        ObjectDisposedException.ThrowIf(_data is null, this);

        // Entries from another file could point anywhere in this mapping; only our own are trusted.
        if (!_byName.TryGetValue(entry.Name, out var own) || !ReferenceEquals(own, entry))
        {
            throw new ArgumentException(
                $"{Path}: entry {SafetensorsHeaderParser.Quote(entry.Name)} does not belong to this file", nameof(entry));
        }

        return _data + entry.Begin;
    }

    private static long ReadHeaderLength(FileStream stream, long fileLength, string path)
    {
        if (fileLength < LengthPrefixBytes)
        {
            throw SafetensorsHeaderParser.Fail(path,
                $"file is {fileLength} bytes, too small for the 8-byte header length (not a safetensors file)");
        }

        Span<byte> prefix = stackalloc byte[LengthPrefixBytes];
        stream.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - LengthPrefixBytes))
        {
            throw SafetensorsHeaderParser.Fail(path,
                $"header length {headerLength} exceeds the file size {fileLength} (the file is truncated or not safetensors)");
        }

        if (headerLength > SafetensorsHeaderParser.MaxHeaderLength)
        {
            throw SafetensorsHeaderParser.Fail(path,
                $"header length {headerLength} exceeds the limit of {SafetensorsHeaderParser.MaxHeaderLength} bytes (100 MiB)");
        }

        return (long)headerLength;
    }
}
