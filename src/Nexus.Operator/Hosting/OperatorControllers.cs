namespace Nexus.Operator.Hosting;

/// <summary>The controllers <c>nexus-operator run</c> starts. Register each kind's controller here, e.g.
/// <c>host.AddController&lt;Expert&gt;(c => c.Owns&lt;V1Job&gt;().WithReconciler(context => new ExpertReconciler(context)))</c>.</summary>
public static class OperatorControllers
{
    public static OperatorHostBuilder AddNexusControllers(this OperatorHostBuilder host)
    {
        // No reconcilers yet: the Expert, NexusModel and Extension controllers are added by the next issue.
        return host;
    }
}
