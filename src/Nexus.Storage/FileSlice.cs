namespace Nexus.Storage;

/// <summary>A read-only window [offset, offset + length) of a file stream, which it owns: one part of a file to upload.</summary>
internal sealed class FileSlice : Stream
{
    private readonly FileStream file;
    private readonly long offset;
    private long position;

    public FileSlice(FileStream file, long offset, long length)
    {
        this.file = file;
        this.offset = offset;
        Length = length;
        file.Seek(offset, SeekOrigin.Begin);
    }

    public override long Length { get; }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;

    public override long Position
    {
        get => position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = file.Read(buffer[..(int)Math.Min(buffer.Length, Length - position)]);
        position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await file.ReadAsync(buffer[..(int)Math.Min(buffer.Length, Length - position)], cancellationToken);
        position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => position + offset, _ => Length + offset };
        if (target < 0 || target > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        file.Seek(this.offset + target, SeekOrigin.Begin);
        position = target;
        return position;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) file.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
