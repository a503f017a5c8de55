// cdk-nag acknowledgements the library writes beside the resources they concern, without
// depending on cdk-nag at runtime (cdk-nag stays a dev dependency).
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Records a reviewed cdk-nag finding on the resource it concerns, in both places cdk-nag
 * looks: CDK's acknowledgements (cdk-nag 3) and each CloudFormation resource's
 * `cdk_nag.rules_to_suppress` metadata (cdk-nag 2). A finding for one resource
 * (`Rule[Resource::arn]`) covers that resource only, never the whole rule.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (!id.includes('::')) {
    Validations.of(scope).acknowledge({ id, reason });
  } else {
    // acknowledge() reserves '::' for its prefix; write the entry it would write.
    scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [`annotation::${id}`]: reason });
  }
  const [, rule, finding] = /^([^[]+)(?:\[(.+)\])?$/.exec(id)!;
  const suppression = { id: rule, reason, ...(finding ? { appliesTo: [finding] } : {}) };
  for (const child of scope.node.findAll()) {
    if (CfnResource.isCfnResource(child)) {
      const existing = (child.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
      child.addMetadata('cdk_nag', { rules_to_suppress: [...existing, suppression] });
    }
  }
}

/**
 * Renders an ARN the way cdk-nag names it in a finding (`<Logical.Arn>/prefix*`), so an
 * acknowledgement covers exactly that resource and nothing broader.
 */
export function nagResource(stack: Stack, arn: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if (o.Ref !== undefined) return `<${o.Ref}>`;
    if (o['Fn::GetAtt'] !== undefined) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (o['Fn::Join'] !== undefined) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    return JSON.stringify(v);
  };
  return render(stack.resolve(arn));
}
