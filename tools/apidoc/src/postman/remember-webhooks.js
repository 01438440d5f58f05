// Remember the webhook endpoint and an event for the next requests.
if (pm.response.code >= 200 && pm.response.code < 300) {
    const res = pm.response.json();
    if (typeof res.id === 'string' && res.id.startsWith('we_')) { pm.collectionVariables.set('endpoint_id', res.id); }
    if (Array.isArray(res.items) && res.items.length > 0 && typeof res.items[0].id === 'string') {
        if (res.items[0].id.startsWith('we_')) { pm.collectionVariables.set('endpoint_id', res.items[0].id); }
        if (res.items[0].id.startsWith('evt_')) { pm.collectionVariables.set('event_id', res.items[0].id); }
    }
    if (pm.request.url.getPath().endsWith('/events') && Array.isArray(res.items) && res.items.length === 0) {
        const tries = Number(pm.collectionVariables.get('event_list_tries') || '0');
        if (tries < 20) {
            pm.collectionVariables.set('event_list_tries', String(tries + 1));
            setTimeout(function () {}, 250);
            postman.setNextRequest(pm.info.requestName);
        }
    }
}
