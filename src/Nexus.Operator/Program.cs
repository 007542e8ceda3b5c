namespace Nexus.Operator;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("nexus-operator: not yet wired (issue 6 in progress)");
        return 2;
    }
}
