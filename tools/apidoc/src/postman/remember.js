// Remember the delivery for the next requests (Insert Tracking Detail, Cancel, reads).
if (pm.response.code === 200 || pm.response.code === 201) {
    const res = pm.response.json();
    let req = {};
    try { req = JSON.parse(pm.variables.replaceIn(pm.request.body ? pm.request.body.raw || '{}' : '{}')); } catch (e) { }
    if (res.policy_id) { pm.collectionVariables.set('policy_id', res.policy_id); }
    if (res.url_certificate) { pm.collectionVariables.set('url_certificate', res.url_certificate); }
    if (req.premium_amount !== undefined) { pm.collectionVariables.set('premium_amount', String(req.premium_amount)); }
    if (res.premium_amount !== undefined) { pm.collectionVariables.set('premium_amount', String(res.premium_amount)); }
    if (res.policy && res.policy.policy_id) { pm.collectionVariables.set('policy_id', res.policy.policy_id); }
    // A quote: Submit then sends its quote_id, product, item value and premium.
    if (res.quote_id && res.valid_until) {
        pm.collectionVariables.set('quote_id', res.quote_id);
        pm.collectionVariables.set('product_code', res.product_code);
        pm.collectionVariables.set('item_value', String(res.item_value));
    }
}
