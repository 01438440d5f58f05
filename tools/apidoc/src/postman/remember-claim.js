// Remember the claim (and the upload request of a document) for the next requests.
if (pm.response.code === 200 || pm.response.code === 201) {
    const res = pm.response.json();
    let req = {};
    try { req = JSON.parse(pm.variables.replaceIn(pm.request.body ? pm.request.body.raw || '{}' : '{}')); } catch (e) { }
    if (res.claim_id) { pm.collectionVariables.set('claim_id', res.claim_id); }
    if (req.claimed_amount !== undefined) { pm.collectionVariables.set('claimed_amount', String(req.claimed_amount)); }
    if (res.upload) {
        pm.collectionVariables.set('upload_url', res.upload.url);
        pm.collectionVariables.set('upload_content_type', res.upload.headers['Content-Type']);
    }
}
