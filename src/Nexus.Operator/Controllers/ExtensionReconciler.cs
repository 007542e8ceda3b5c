using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Events;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Controllers;

/// <summary>
/// An Extension's run: observe (its model, the namespace's Experts, the model's other Extensions, then each surgery's
/// and the evaluation's result and Job), decide (<see cref="ExtensionProgress"/>), apply (create the one Job the decision
/// asks for; Jobs are never updated), report (status, only when it changed, and an Event per phase change or failure).
/// A Succeeded or Failed Extension is left alone: its spec cannot change, and the NexusModel records its revision.
/// </summary>
public sealed class ExtensionReconciler(ControllerContext<Extension> context, OperatorSettings settings, ArtifactStoreFactory stores)
    : IReconciler<Extension>
{
    private readonly ArtifactPaths _paths = new(settings);
    private readonly StepJobs _steps = new(context.Informers, stores, context.Client, context.Events, settings);

    public async Task<ReconcileResult> ReconcileAsync(Extension extension, CancellationToken cancellationToken)
    {
        if (Finalizers.IsDeleting(extension) || ExtensionProgress.IsFinished(extension))
        {
            return ReconcileResult.Done;
        }

        var ns = extension.Metadata.NamespaceProperty;
        var model = context.Informers.Cache<NexusModel>().Get(ns, extension.Spec.Model);
        if (model is not null)
        {
            if (NexusModelExtensions.OwningModel(extension, model.Metadata.Name) is { } owner && owner.Uid != model.Metadata.Uid)
            {
                // Made for a deleted model of the same name; the garbage collector removes it with that model.
                return ReconcileResult.Done;
            }

            // Owned by its model from here on, so deleting the model deletes its Extensions (and a model created again
            // under that name never takes up a namesake's).
            extension = await OwnerReferences.AddOwnerAsync(context.Patcher, extension, model, cancellationToken);
        }

        var readiness = ExtensionProgress.Prepare(
            extension, model, context.Informers.Cache<Expert>().List(ns), context.Informers.Cache<Extension>().List(ns));
        ExtensionDecision decision;
        if (readiness.Start is not { } start)
        {
            decision = readiness.Fatal
                ? new ExtensionDecision(ExtensionPhase.Failed, Health.Failed, readiness.Reason, readiness.Message)
                : new ExtensionDecision(ExtensionPhase.Pending, Health.Progressing, readiness.Reason, readiness.Message);
        }
        else
        {
            ExtensionPlan plan;
            StepInvocation evaluation;
            try
            {
                plan = StepCommands.Extension(extension, model!, start.ToRevision, start.FromModelUri, start.Current, start.Added, _paths);
                evaluation = StepCommands.EvaluateExtension(extension, model!, start.ToRevision, plan, _paths);
            }
            catch (ArgumentException invalid)
            {
                decision = new ExtensionDecision(ExtensionPhase.Failed, Health.Failed, Reasons.InvalidSpec, invalid.Message, Start: start);
                return await ReportAsync(extension, decision, cancellationToken);
            }

            var observed = await ObserveAsync(extension, start, [.. plan.Surgeries, evaluation], cancellationToken);
            if (StepJobs.ForeignJob(extension, observed.Steps) is { } wait)
            {
                return wait;
            }

            decision = ExtensionProgress.Decide(observed);
            if (decision.Create is { } step && await _steps.CreateAsync(extension, step, model!.Spec.Resources, cancellationToken) is { } stalled)
            {
                return stalled;
            }
        }

        return await ReportAsync(extension, decision, cancellationToken);
    }

    private async Task<ReconcileResult> ReportAsync(Extension extension, ExtensionDecision decision, CancellationToken cancellationToken)
    {
        var previous = extension.Status;
        var written = await context.Status.UpdateAsync(
            extension, copy => ExtensionProgress.Apply(copy, decision, context.Time.GetUtcNow()), cancellationToken);
        if (written.Written)
        {
            context.Events.RecordTransition(written.Resource, previous?.Phase, previous?.Message, decision.Phase, decision.Health, decision.Reason, decision.Message);
        }

        return ReconcileResult.Done;
    }

    /// <summary>The steps in order, each observed only once the one before it has its result; with every result, the
    /// evaluation report and the extended model (the last surgery's <c>--out</c>) are read once.</summary>
    private async Task<ExtensionObservation> ObserveAsync(
        Extension extension, ExtensionStart start, IReadOnlyList<StepInvocation> steps, CancellationToken cancellationToken)
    {
        var ns = extension.Metadata.NamespaceProperty;
        var observed = new List<StepObservation>();
        foreach (var step in steps)
        {
            var observation = await _steps.ObserveAsync(ns, step, recorded: null, cancellationToken);
            observed.Add(observation);
            if (observation.Result is null)
            {
                break;
            }
        }

        string? report = null;
        ArtifactReference? extended = null;
        if (observed.Count == steps.Count && observed[^1].Result is { } published)
        {
            report = await _steps.ReadSingleFileAsync(observed[^1].Step, published.Uri, cancellationToken);
            var surgery = observed[^2].Step;
            var output = surgery.Arguments[surgery.Arguments.ToList().IndexOf("--out") + 1];
            extended = await _steps.ReadResultAsync(new StepInvocation(surgery.Kind, surgery.JobName, [], output), cancellationToken);
        }

        return new ExtensionObservation(start, observed, steps.Count, report, extended);
    }
}
